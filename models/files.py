"""File helpers shared by the model cache and the adapter registry: hashing, flushing a folder,
and whole-file writes that a crash never leaves half done.

A write is atomic when readers see the old content or the new one, never a mix: the data goes to a
temporary file in the same folder, is flushed to disk, and is renamed over the target
(``os.replace``); then the folder is flushed, so the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

_HASH_CHUNK = 4 * 1024 * 1024
# Temporary names start with a dot: listings of a folder (the registry's adapters, the model
# cache) skip hidden entries, so a file being written is never taken for a finished one.
_TMP_PREFIX = ".tmp-"


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_folder(folder: Path) -> None:
    """Flush a folder's files and the folder itself: a rename that publishes it is only durable
    once the data it points at is on disk (used for the model cache and the adapter registry)."""
    for path in Path(folder).iterdir():
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
    _fsync_entry(Path(folder))


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically; the file gets permission bits ``mode``.

    ``mkstemp`` would leave an owner-only file; registry and cache files are read by other users
    and in images, hence the explicit ``mode``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_entry(path.parent)


def atomic_write_text(path: Path, text: str, mode: int = 0o644, encoding: str = "utf-8") -> None:
    """``atomic_write_bytes`` for text."""
    atomic_write_bytes(path, text.encode(encoding), mode)


def _fsync_entry(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["atomic_write_bytes", "atomic_write_text", "fsync_folder", "sha256_file"]
