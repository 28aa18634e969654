"""Fixtures shared by the model tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.models.engines.engine_helpers import save_random_lora


@pytest.fixture(scope="session")
def random_lora_dir(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random LoRA the vllm and openai engine modules serve (built on the bfloat16
    base model, no task type)."""
    return save_random_lora(model_path, tmp_path_factory.mktemp("adapter") / "random-lora",
                            "bfloat16")
