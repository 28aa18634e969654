"""The customization loop: the adapter registry (immutable customization IDs), LoRA / p-tuning
training, and the teacher that rewrites synthetic examples."""
