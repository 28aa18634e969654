"""The shared file helpers: hashing and atomic whole-file writes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from models import files


def test_sha256_file_hashes_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "_HASH_CHUNK", 3)
    path = tmp_path / "data"
    path.write_bytes(b"0123456789")
    assert files.sha256_file(path) == hashlib.sha256(b"0123456789").hexdigest()


def test_atomic_write_replaces_the_file_readably(tmp_path: Path) -> None:
    path = tmp_path / "defaults.json"
    path.write_text("old", encoding="utf-8")
    files.atomic_write_text(path, "nëw\n")
    assert path.read_text(encoding="utf-8") == "nëw\n"
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["defaults.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "defaults.json"
    path.write_text("old", encoding="utf-8")

    def refuse(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        files.atomic_write_bytes(path, b"new")
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["defaults.json"]


def test_fsync_folder_flushes_every_file(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    files.fsync_folder(tmp_path)  # no error on a folder of plain files
