"""Inference engines behind one interface (``base``): vLLM in-process (with its CPU LoRA ops
plugin), transformers + peft (with its grammar masking), an OpenAI-compatible remote server, and
the echo engine for transport tests. Handlers import only ``base``."""
