"""Provisioning of the default base model: conversion, manifest verification, user paths.

The shared cache is only read; every corruption happens on a copy under ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from models import base_model
from models.base_model import (
    DEFAULT_MODEL_NAME,
    EXPECTED_GGUF_SHA256,
    EXPECTED_WEIGHTS_SHA256,
    MANIFEST_FILE_NAME,
    WEIGHTS_FILE_NAME,
    ensure_base_model,
    model_id,
    resolve_base_model,
    verify_model_folder,
)
from models.errors import ModelProvisioningError

pytestmark = pytest.mark.peft

REPO = Path(__file__).resolve().parents[2]


def test_provisioning_is_idempotent_and_fast(model_path: Path, model_cache_dir: Path) -> None:
    started = time.perf_counter()
    again = ensure_base_model(model_cache_dir)
    elapsed = time.perf_counter() - started
    assert again == model_path == model_cache_dir / DEFAULT_MODEL_NAME
    # The fast path re-hashes ~270 MB; it must stay cheap enough to run at every start.
    assert elapsed < 3.0, f"verification took {elapsed:.2f} s"
    manifest = json.loads((model_path / MANIFEST_FILE_NAME).read_text())
    assert manifest["source"]["sha256"] == EXPECTED_GGUF_SHA256
    assert manifest["files"][WEIGHTS_FILE_NAME]["sha256"] == EXPECTED_WEIGHTS_SHA256
    for name in ("config.json", "tokenizer.json", "generation_config.json"):
        assert name in manifest["files"]
    temporary = f".{DEFAULT_MODEL_NAME}.tmp-"
    assert not any(p.name.startswith(temporary) for p in model_cache_dir.iterdir())


def test_converted_folder_is_plain_hf_with_chat_template(model_path: Path) -> None:
    config = json.loads((model_path / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["model_type"] == "llama"
    assert config["head_dim"] == 64
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered.endswith("<|im_start|>assistant\n")


def test_corruption_in_a_copy_is_detected(model_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / DEFAULT_MODEL_NAME
    shutil.copytree(model_path, copy)
    assert ensure_base_model(tmp_path) == copy

    weights = copy / WEIGHTS_FILE_NAME
    with weights.open("r+b") as handle:
        handle.seek(weights.stat().st_size // 2)
        original = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([original[0] ^ 0xFF]))
    with pytest.raises(ModelProvisioningError, match=r"sha256 mismatch.*model\.safetensors"):
        ensure_base_model(tmp_path)

    with weights.open("r+b") as handle:
        handle.seek(weights.stat().st_size // 2)
        handle.write(original)
    verify_model_folder(copy)

    with (copy / "tokenizer.json").open("ab") as handle:
        handle.write(b" ")
    with pytest.raises(ModelProvisioningError, match=r"tokenizer\.json has .* bytes"):
        ensure_base_model(tmp_path)


def test_folder_without_manifest_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / DEFAULT_MODEL_NAME
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ModelProvisioningError, match=MANIFEST_FILE_NAME):
        ensure_base_model(tmp_path)


def test_failed_conversion_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / f".{DEFAULT_MODEL_NAME}.tmp-killed"
    stale.mkdir()
    (stale / WEIGHTS_FILE_NAME).write_bytes(b"half")

    def crash(gguf: Path, out_dir: Path) -> None:
        (out_dir / WEIGHTS_FILE_NAME).write_bytes(b"partial")
        raise RuntimeError("killed mid-way")

    monkeypatch.setattr(base_model, "_convert_into", crash)
    with pytest.raises(ModelProvisioningError, match="killed mid-way"):
        ensure_base_model(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".{DEFAULT_MODEL_NAME}.lock"]


def test_weights_differing_from_the_pin_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def convert_differently(gguf: Path, out_dir: Path) -> None:
        (out_dir / "config.json").write_text("{}")
        (out_dir / WEIGHTS_FILE_NAME).write_bytes(b"not the pinned weights")

    monkeypatch.setattr(base_model, "_convert_into", convert_differently)
    with pytest.raises(ModelProvisioningError, match=f"expected {EXPECTED_WEIGHTS_SHA256}"):
        ensure_base_model(tmp_path)
    assert not (tmp_path / DEFAULT_MODEL_NAME).exists()


def test_user_directory_is_returned_as_is(tmp_path: Path, model_path: Path) -> None:
    user = tmp_path / "my-model"
    user.mkdir()
    (user / "config.json").write_text("{}")
    (user / WEIGHTS_FILE_NAME).write_bytes(b"")
    assert resolve_base_model(user, tmp_path / "unused-cache") == user
    assert not (tmp_path / "unused-cache").exists()
    assert model_id(user) == "my-model"

    sharded = tmp_path / "sharded"
    sharded.mkdir()
    (sharded / "config.json").write_text("{}")
    (sharded / f"{WEIGHTS_FILE_NAME}.index.json").write_text("{}")
    assert resolve_base_model(sharded, tmp_path) == sharded


def test_user_directory_without_weights_or_config_is_refused(tmp_path: Path) -> None:
    user = tmp_path / "no-weights"
    user.mkdir()
    (user / "config.json").write_text("{}")
    (user / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(ModelProvisioningError, match="safetensors"):
        resolve_base_model(user, tmp_path)
    (user / "config.json").unlink()
    (user / WEIGHTS_FILE_NAME).write_bytes(b"")
    with pytest.raises(ModelProvisioningError, match=r"config\.json"):
        resolve_base_model(user, tmp_path)
    with pytest.raises(ModelProvisioningError, match="not a directory"):
        resolve_base_model(tmp_path / "missing", tmp_path)


def test_none_resolves_to_the_default_model(model_path: Path, model_cache_dir: Path) -> None:
    assert resolve_base_model(None, model_cache_dir) == model_path
    assert model_id(model_path) == DEFAULT_MODEL_NAME


def test_module_cli_prints_the_folder(model_path: Path, model_cache_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "models.base_model", "--cache-dir", str(model_cache_dir)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(model_path)
