"""Inference and customization: engines, adapter registry, training, synthetic data, base model."""
