"""The adapter registry: immutable IDs, checksums, safe paths, defaults (no model needed)."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from models.customize.registry import (
    DEFAULT_ROOT,
    ID_PATTERN,
    MANIFEST_FILE,
    WEIGHTS_FILE,
    Manifest,
    Registry,
    new_customization_id,
)
from models.engines.base import AdapterInfo
from models.errors import AdapterError

NOW = datetime(2026, 11, 26, 7, 12, 30, tzinfo=UTC)


def make_source(folder: Path, fill: float = 0.5) -> Path:
    """A small peft-shaped adapter folder: config, safetensors weights, a loss curve."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "r": 2, "target_modules": ["q_proj"]}), "utf-8"
    )
    save_file({"w": torch.full((4, 4), fill)}, str(folder / WEIGHTS_FILE))
    (folder / "loss_curve.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return folder


def create(registry: Registry, source: Path, task: str = "sentiment", **kwargs: Any) -> Manifest:
    return registry.create(
        source_dir=source,
        task=task,
        method=kwargs.pop("method", "lora"),
        base_model="SmolLM2-135M-Instruct",
        base_model_sha256="ab" * 32,
        hyperparameters={"rank": 2, "alpha": 4, "target_modules": ["q_proj"], "epochs": 1,
                         "lr": 5e-4, "seed": 0},
        data_sha256="cd" * 32,
        data={"generator": {"seed": 1, "n": 16, "split": "train"}},
        eval={"eval_loss": 0.5},
        artifacts=("loss_curve.png",),
        **kwargs,
    )


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_source(tmp_path / "run")


def test_create_writes_folder_manifest_and_hashes(registry: Registry, source: Path) -> None:
    manifest = create(registry, source, now=NOW)
    assert ID_PATTERN.match(manifest.id)
    assert manifest.id.startswith("sentiment-lora-20261126t0712-")
    folder = registry.path(manifest.id)
    assert folder == (registry.root / manifest.id).resolve()
    assert sorted(p.name for p in folder.iterdir()) == [
        "adapter_config.json", WEIGHTS_FILE, "loss_curve.png", MANIFEST_FILE]
    on_disk = json.loads((folder / MANIFEST_FILE).read_text("utf-8"))
    for key in ("id", "task", "method", "base_model", "base_model_sha256", "hyperparameters",
                "data_sha256", "data", "eval", "created_at", "files"):
        assert key in on_disk, key
    assert on_disk["created_at"] == "2026-11-26T07:12:30Z"
    assert on_disk["files"] == {name: sha(folder / name) for name in on_disk["files"]}
    assert manifest.weights_sha256 == sha(source / WEIGHTS_FILE)
    assert registry.get(manifest.id) == manifest
    assert Manifest.from_dict(json.loads(json.dumps(manifest.to_dict()))) == manifest
    assert [m.id for m in registry.list()] == [manifest.id]
    assert registry.verify() == []
    assert registry.adapter_info(manifest.id) == AdapterInfo(
        manifest.id, "sentiment", "lora", str(folder))
    # Nothing is left behind from staging.
    assert [p.name for p in registry.root.iterdir()] == [manifest.id]


def test_second_create_never_overwrites(registry: Registry, source: Path, tmp_path: Path) -> None:
    first = create(registry, source, now=NOW)
    before = {p.name: sha(p) for p in registry.path(first.id).iterdir()}
    other = make_source(tmp_path / "other", fill=9.0)
    with pytest.raises(AdapterError, match="already exists"):
        create(registry, other, customization_id=first.id)
    after = {p.name: sha(p) for p in registry.path(first.id).iterdir()}
    assert after == before
    # Without an explicit ID the same source becomes a second, separate adapter.
    second = create(registry, source, now=NOW)
    assert second.id != first.id
    assert {m.id for m in registry.list()} == {first.id, second.id}
    assert not [p for p in registry.root.iterdir() if p.name.startswith(".")]


def test_create_refuses_bad_ids_and_sources(registry: Registry, source: Path) -> None:
    with pytest.raises(AdapterError, match="not a customization ID"):
        create(registry, source, customization_id="entities-lora-20261126t0712-abcdef")
    with pytest.raises(AdapterError, match="not a customization ID"):
        create(registry, source, customization_id="../sentiment-lora-20261126t0712-abcdef")
    with pytest.raises(AdapterError, match="unknown task"):
        create(registry, source, task="summary")
    (source / WEIGHTS_FILE).write_bytes(b"\x80\x04\x95 a pickle, not safetensors")
    with pytest.raises(AdapterError, match="not a safetensors file"):
        create(registry, source)
    assert registry.list() == []


def test_new_ids_are_distinct_and_well_formed() -> None:
    ids = {new_customization_id("persona", "ptuning", NOW) for _ in range(50)}
    assert len(ids) == 50
    assert all(ID_PATTERN.match(i) and i.startswith("persona-ptuning-20261126t0712-") for i in ids)


def test_verify_detects_a_changed_byte_in_a_copy(tmp_path: Path) -> None:
    shipped = Registry()
    cid = shipped.defaults()["sentiment"]
    copy = Registry(tmp_path / "copy")
    shutil.copytree(shipped.path(cid), copy.root / cid)
    assert copy.verify() == []
    weights = copy.root / cid / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # a tensor byte: the file still parses as safetensors
    weights.write_bytes(bytes(data))
    problems = copy.verify()
    assert len(problems) == 1
    assert cid in problems[0] and WEIGHTS_FILE in problems[0] and "sha256" in problems[0]
    assert copy.verify(cid) == problems
    assert shipped.verify(cid) == []  # the original is untouched


def test_verify_reports_missing_extra_and_broken(registry: Registry, source: Path) -> None:
    manifest = create(registry, source)
    folder = registry.path(manifest.id)
    (folder / "loss_curve.png").unlink()
    (folder / "notes.txt").write_text("hand edit", "utf-8")
    broken = registry.root / "sentiment-lora-20261126t0000-000000"
    broken.mkdir()
    problems = registry.verify()
    assert any("loss_curve.png is missing" in p for p in problems)
    assert any("notes.txt is not in the manifest" in p for p in problems)
    assert any(p.startswith(broken.name) for p in problems)
    assert [m.id for m in registry.list()] == [manifest.id]  # the broken one is not listed


@pytest.mark.parametrize("bad", ["..", ".", "../registry", "a/b", "/etc", "", ".tmp-x", "x\0y"])
def test_path_refuses_names_that_are_not_ids(registry: Registry, source: Path, bad: str) -> None:
    create(registry, source)
    with pytest.raises(AdapterError):
        registry.path(bad)


def test_path_refuses_a_symlinked_folder_outside(registry: Registry, tmp_path: Path) -> None:
    outside = Registry(tmp_path / "elsewhere")
    manifest = create(outside, make_source(tmp_path / "src"))
    registry.root.mkdir(parents=True)
    (registry.root / manifest.id).symlink_to(outside.path(manifest.id), target_is_directory=True)
    with pytest.raises(AdapterError, match="outside the registry"):
        registry.path(manifest.id)
    assert registry.list() == []
    assert registry.verify() and "outside the registry" in registry.verify()[0]


def test_path_refuses_a_symlinked_file_outside(registry: Registry, source: Path,
                                               tmp_path: Path) -> None:
    manifest = create(registry, source)
    weights = registry.path(manifest.id) / WEIGHTS_FILE
    elsewhere = make_source(tmp_path / "elsewhere") / WEIGHTS_FILE
    weights.unlink()
    weights.symlink_to(elsewhere)
    with pytest.raises(AdapterError, match="links outside"):
        registry.path(manifest.id)


def test_path_refuses_weights_that_are_not_safetensors(registry: Registry, source: Path) -> None:
    manifest = create(registry, source)
    folder = registry.path(manifest.id)
    (folder / "adapter_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(AdapterError, match="only safetensors"):
        registry.path(manifest.id)
    (folder / "adapter_model.bin").unlink()
    (folder / WEIGHTS_FILE).write_bytes(b"\x80\x04\x95 pickle bytes in disguise")
    with pytest.raises(AdapterError, match="not a safetensors file"):
        registry.path(manifest.id)
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(AdapterError, match=f"no {WEIGHTS_FILE}"):
        registry.adapter_info(manifest.id)


def test_unknown_id_is_an_adapter_error(registry: Registry) -> None:
    with pytest.raises(AdapterError, match="no adapter"):
        registry.get("sentiment-lora-20261126t0712-abcdef")


def test_defaults_round_trip(registry: Registry, source: Path, tmp_path: Path) -> None:
    assert registry.defaults() == {}
    sentiment = create(registry, source)
    persona = create(registry, source, task="persona", method="ptuning")
    registry.set_default("sentiment", sentiment.id)
    registry.set_default("persona", persona.id)
    reread = Registry(registry.root)
    assert reread.defaults() == {"persona": persona.id, "sentiment": sentiment.id}
    newer = create(registry, source)
    registry.set_default("sentiment", newer.id)
    assert Registry(registry.root).defaults()["sentiment"] == newer.id
    assert registry.verify() == []
    with pytest.raises(AdapterError, match="is a persona adapter"):
        registry.set_default("sentiment", persona.id)
    with pytest.raises(AdapterError, match="no adapter"):
        registry.set_default("entities", "entities-lora-20261126t0712-abcdef")
    with pytest.raises(AdapterError, match="unknown task"):
        registry.set_default("summary", sentiment.id)
    assert not [p for p in registry.root.iterdir() if p.name.startswith(".")]


def test_verify_reports_a_default_that_points_nowhere(registry: Registry, source: Path) -> None:
    manifest = create(registry, source)
    registry.set_default("sentiment", manifest.id)
    shutil.rmtree(registry.root / manifest.id)
    problems = registry.verify()
    assert len(problems) == 1 and "defaults.json" in problems[0]
    (registry.root / "defaults.json").write_text("[1, 2]", "utf-8")
    with pytest.raises(AdapterError, match="must map task names"):
        registry.defaults()


def test_manifest_json_has_the_list_fields(registry: Registry, source: Path) -> None:
    """What ``replyd adapters list --json`` is built from: every field, plain JSON types."""
    manifest = create(registry, source)
    data = json.loads(json.dumps(manifest.to_dict()))
    assert {"id", "task", "method", "base_model", "base_model_sha256", "hyperparameters",
            "data_sha256", "data", "eval", "created_at", "files", "format"} == set(data)
    assert data["files"][WEIGHTS_FILE] == manifest.weights_sha256
    with pytest.raises(AdapterError, match="malformed"):
        Manifest.from_dict({k: v for k, v in data.items() if k != "files"})


def test_shipped_registry_is_intact() -> None:
    shipped = Registry()
    assert shipped.root == DEFAULT_ROOT
    assert shipped.verify() == []
    defaults = shipped.defaults()
    assert set(defaults) == {"sentiment", "entities", "reply", "persona", "analysis", "topic",
                             "steering"}
    for task, cid in defaults.items():
        manifest = shipped.get(cid)
        assert manifest.task == task
        assert manifest.base_model == "SmolLM2-135M-Instruct"
        config = json.loads((shipped.path(cid) / "adapter_config.json").read_text("utf-8"))
        # What vLLM accepts: plain LoRA or p-tuning, nothing saved besides the adapter.
        assert not config.get("modules_to_save") and not config.get("use_dora")
