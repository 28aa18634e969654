"""Test registries: the shipped adapters in a temporary folder, plus copies under new IDs; and
settings that name them with nothing from the environment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from daemon.settings import Settings
from models.customize.registry import DEFAULT_ROOT


def shipped(tmp_path: Path) -> Path:
    """A writable copy of the shipped registry; its root."""
    root = tmp_path / "adapters"
    shutil.copytree(DEFAULT_ROOT, root)
    return root


def copy_adapter(root: Path, source: str, new: str, **manifest: Any) -> None:
    """``source``'s files as adapter ``new`` (same weights), with ``manifest`` fields changed."""
    shutil.copytree(root / source, root / new)
    path = root / new / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "id": new, **manifest}))


def settings_without_env(monkeypatch: pytest.MonkeyPatch, **values: Any) -> Settings:
    """Settings from ``values`` and the defaults only: no REPLYD_* variable of the machine."""
    for name in Settings.model_fields:
        monkeypatch.delenv(f"REPLYD_{name.upper()}", raising=False)
    return Settings(**values)
