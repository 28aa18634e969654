"""The adapter registry: immutable, versioned customizations of the base model.

A registry is a folder. Every training run adds one sub-folder named by a new customization ID
(``sentiment-lora-20261126t0712-3f9a1c``: task, method, UTC minute, random suffix) holding the
peft files (``adapter_config.json``, ``adapter_model.safetensors``), any artifacts of the run
(``loss_curve.png``) and ``manifest.json``: what was trained, on which base model and data, with
which hyperparameters, how it scored, and the sha256 of every file. An ID is never reused and a
folder is never written twice: a changed adapter is a new ID, so a serving engine's caches keyed
by adapter name (vLLM's prefix cache) can never mix two versions.

``defaults.json`` is the one mutable file: it maps each task to the customization ID the daemon
uses out of the box. Moving a default is a one-line change that names an immutable adapter.

The shipped registry is ``models/adapters/`` (in git, and package data).
"""

from __future__ import annotations

import builtins
import json
import re
import secrets
import shutil
import struct
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from models.engines.base import AdapterInfo
from models.errors import AdapterError
from models.files import atomic_write_text, fsync_folder, sha256_file
from models.vocabulary import TASKS

Method = Literal["lora", "ptuning"]
METHODS: tuple[str, ...] = get_args(Method)

DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "adapters"
CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
MANIFEST_FILE = "manifest.json"
DEFAULTS_FILE = "defaults.json"
MANIFEST_FORMAT = 1
REQUIRED_FILES: tuple[str, ...] = (CONFIG_FILE, WEIGHTS_FILE)
# Pickle-based weight files: peft would load one if it were there, and unpickling runs code.
UNSAFE_SUFFIXES: tuple[str, ...] = (".bin", ".pt", ".pth", ".pkl", ".ckpt")

ID_PATTERN = re.compile(
    r"^(?P<task>[a-z]+)-(?P<method>[a-z]+)-(?P<stamp>\d{8}t\d{4})-(?P<suffix>[0-9a-f]{6})$"
)
_TMP_PREFIX = ".tmp-"
_MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Manifest:
    """Everything recorded about one registered adapter (``manifest.json``).

    ``hyperparameters`` holds the training settings (rank, alpha, target modules, epochs, lr,
    seed, ...); ``data`` the provenance of the training data (rows used, the generator and its
    seed, split and n when the data is synthetic, the eval data's hash); ``eval`` the held-out
    figures measured before registration; ``files`` the sha256 of every file in the folder except
    the manifest itself.
    """

    id: str
    task: str
    method: str
    base_model: str
    base_model_sha256: str
    hyperparameters: Mapping[str, Any]
    data_sha256: str
    data: Mapping[str, Any]
    eval: Mapping[str, Any]
    created_at: str
    files: Mapping[str, str]
    format: int = MANIFEST_FORMAT

    @property
    def weights_sha256(self) -> str:
        """The sha256 of ``adapter_model.safetensors``."""
        return self.files[WEIGHTS_FILE]

    def to_dict(self) -> dict[str, Any]:
        """The manifest as JSON-ready data, in a stable key order."""
        return {
            "format": self.format,
            "id": self.id,
            "task": self.task,
            "method": self.method,
            "base_model": self.base_model,
            "base_model_sha256": self.base_model_sha256,
            "hyperparameters": dict(self.hyperparameters),
            "data_sha256": self.data_sha256,
            "data": dict(self.data),
            "eval": dict(self.eval),
            "created_at": self.created_at,
            "files": dict(sorted(self.files.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Parse ``manifest.json`` content; ``AdapterError`` when a field is missing or wrong."""
        try:
            manifest = cls(
                id=str(data["id"]),
                task=str(data["task"]),
                method=str(data["method"]),
                base_model=str(data["base_model"]),
                base_model_sha256=str(data["base_model_sha256"]),
                hyperparameters=dict(data["hyperparameters"]),
                data_sha256=str(data["data_sha256"]),
                data=dict(data["data"]),
                eval=dict(data["eval"]),
                created_at=str(data["created_at"]),
                files={str(k): str(v) for k, v in dict(data["files"]).items()},
                format=int(data["format"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise AdapterError(f"malformed adapter manifest: {error!r}") from error
        if manifest.format != MANIFEST_FORMAT:
            raise AdapterError(f"manifest format {manifest.format} is not {MANIFEST_FORMAT}")
        if manifest.task not in TASKS or manifest.method not in METHODS:
            raise AdapterError(f"manifest of {manifest.id!r} names task {manifest.task!r} / "
                               f"method {manifest.method!r}")
        missing = [name for name in REQUIRED_FILES if name not in manifest.files]
        if missing:
            raise AdapterError(f"manifest of {manifest.id!r} does not list {missing}")
        return manifest


@dataclass(frozen=True, slots=True)
class _Staged:
    """Files copied into a staging folder, with their hashes."""

    folder: Path
    files: dict[str, str] = field(default_factory=dict)


def new_customization_id(task: str, method: str, now: datetime | None = None) -> str:
    """A fresh ID: ``<task>-<method>-<yyyymmdd>t<hhmm>-<6 random hex>`` (UTC)."""
    _check_task_method(task, method)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dt%H%M")
    return f"{task}-{method}-{stamp}-{secrets.token_hex(3)}"


class Registry:
    """A folder of immutable adapters addressed by customization ID, plus ``defaults.json``."""

    def __init__(self, root: Path = DEFAULT_ROOT) -> None:
        self.root = Path(root)

    # -- writing ------------------------------------------------------------------------------

    def create(
        self,
        *,
        source_dir: Path,
        task: str,
        method: str,
        base_model: str,
        base_model_sha256: str,
        hyperparameters: Mapping[str, Any],
        data_sha256: str,
        data: Mapping[str, Any],
        eval: Mapping[str, Any],
        artifacts: Iterable[str] = (),
        customization_id: str | None = None,
        now: datetime | None = None,
    ) -> Manifest:
        """Register the peft adapter in ``source_dir`` under a new customization ID.

        Copies ``adapter_config.json``, ``adapter_model.safetensors`` and the named
        ``artifacts`` (files in ``source_dir``) into ``<root>/<id>/`` with a manifest. The folder
        appears complete or not at all. Raises ``AdapterError`` when the ID already exists (an
        adapter is never overwritten), when the weights are not safetensors, or when a file is
        missing.
        """
        _check_task_method(task, method)
        created = (now or datetime.now(UTC)).astimezone(UTC)
        cid = customization_id or new_customization_id(task, method, created)
        match = ID_PATTERN.match(cid)
        if match is None or match["task"] != task or match["method"] != method:
            raise AdapterError(f"{cid!r} is not a customization ID for {task}/{method}")
        source_dir = Path(source_dir)
        names = [*REQUIRED_FILES, *artifacts]
        for name in names:
            if Path(name).name != name or name in (MANIFEST_FILE, ".", ".."):
                raise AdapterError(f"artifact {name!r} must be a plain file name")
            if not (source_dir / name).is_file():
                raise AdapterError(f"{source_dir / name} does not exist")
        _check_safetensors(source_dir / WEIGHTS_FILE)
        final = self.root / cid
        if final.exists() or final.is_symlink():
            raise AdapterError(f"adapter {cid!r} already exists; a new run needs a new ID")
        self.root.mkdir(parents=True, exist_ok=True)
        staged = _Staged(Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{cid}-", dir=self.root)))
        try:
            for name in names:
                shutil.copyfile(source_dir / name, staged.folder / name)
                staged.files[name] = sha256_file(staged.folder / name)
            manifest = Manifest(
                id=cid,
                task=task,
                method=method,
                base_model=base_model,
                base_model_sha256=base_model_sha256,
                hyperparameters=dict(hyperparameters),
                data_sha256=data_sha256,
                data=dict(data),
                eval=dict(eval),
                created_at=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                files=dict(staged.files),
            )
            _write_json(staged.folder / MANIFEST_FILE, manifest.to_dict())
            # mkdtemp makes an owner-only folder; adapters are read by other users and in images.
            for path in staged.folder.iterdir():
                path.chmod(0o644)
            staged.folder.chmod(0o755)
            fsync_folder(staged.folder)
            # mkdir is the exclusive claim on the ID (it fails if anything is there); renaming the
            # staged folder onto our own empty claim then makes the adapter appear whole.
            try:
                final.mkdir()
            except FileExistsError as error:
                raise AdapterError(f"adapter {cid!r} already exists; not overwritten") from error
            staged.folder.rename(final)
        finally:
            if staged.folder.exists():
                shutil.rmtree(staged.folder)
        return manifest

    def set_default(self, task: str, customization_id: str) -> None:
        """Make ``customization_id`` the adapter the daemon uses for ``task`` out of the box."""
        _check_task(task)
        manifest = self.get(customization_id)
        if manifest.task != task:
            raise AdapterError(
                f"adapter {customization_id!r} is a {manifest.task} adapter, not {task}"
            )
        self.path(customization_id)
        defaults = self.defaults()
        defaults[task] = customization_id
        self.root.mkdir(parents=True, exist_ok=True)
        # Atomic: a reader never sees half a defaults file.
        atomic_write_text(self.root / DEFAULTS_FILE, _json_text(dict(sorted(defaults.items()))))

    # -- reading ------------------------------------------------------------------------------

    def path(self, customization_id: str) -> Path:
        """The adapter's folder, after checking it is a safe, loadable safetensors adapter.

        Raises ``AdapterError`` for an ID that is not a plain name, resolves outside the root
        (``..``, a symlinked folder or file), is not registered, or whose weights are missing,
        not safetensors, or accompanied by a pickle-based weights file.
        """
        if (
            not customization_id
            or customization_id in (".", "..")
            or any(sep in customization_id for sep in ("/", "\\", "\0"))
            or customization_id.startswith(".")
        ):
            raise AdapterError(f"{customization_id!r} is not a customization ID")
        root = self.root.resolve()
        folder = (self.root / customization_id).resolve()
        if folder.parent != root:
            raise AdapterError(
                f"adapter {customization_id!r} resolves to {folder}, outside the registry {root}"
            )
        if not folder.is_dir():
            raise AdapterError(f"no adapter {customization_id!r} in the registry {root}")
        for entry in folder.iterdir():
            if entry.name.endswith(UNSAFE_SUFFIXES):
                raise AdapterError(
                    f"adapter {customization_id!r} has {entry.name}: only safetensors weights "
                    "are served"
                )
            if entry.is_symlink() and entry.resolve().parent != folder:
                raise AdapterError(
                    f"adapter {customization_id!r}: {entry.name} links outside its folder"
                )
        for name in REQUIRED_FILES:
            if not (folder / name).is_file():
                raise AdapterError(f"adapter {customization_id!r} has no {name}")
        _check_safetensors(folder / WEIGHTS_FILE)
        return folder

    def get(self, customization_id: str) -> Manifest:
        """The manifest of one adapter; ``AdapterError`` when it is unknown or unreadable."""
        folder = self.path(customization_id)
        manifest = _read_manifest(folder / MANIFEST_FILE)
        if manifest.id != customization_id:
            raise AdapterError(
                f"folder {customization_id!r} holds the manifest of {manifest.id!r}"
            )
        return manifest

    def list(self) -> builtins.list[Manifest]:
        """Every registered adapter, by ID. Folders that fail to load are left to ``verify``."""
        manifests = []
        for cid in self._ids():
            try:
                manifests.append(self.get(cid))
            except AdapterError:
                continue  # verify() reports it; listing the good ones stays possible
        return manifests

    def adapter_info(self, customization_id: str) -> AdapterInfo:
        """What an engine needs to serve the adapter."""
        manifest = self.get(customization_id)
        return AdapterInfo(
            customization_id=manifest.id,
            task=manifest.task,
            method=manifest.method,
            path=str(self.path(customization_id)),
        )

    def defaults(self) -> dict[str, str]:
        """``defaults.json``: task → customization ID (empty when the file does not exist)."""
        path = self.root / DEFAULTS_FILE
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise AdapterError(f"unreadable {path}: {error}") from error
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise AdapterError(f"{path} must map task names to customization IDs")
        return data

    def verify(self, customization_id: str | None = None) -> builtins.list[str]:
        """Check adapters against their manifests; return the problems found (empty = all good).

        For each adapter (or only ``customization_id``): the folder is safe to load, the manifest
        parses and names its folder, every listed file exists with its sha256, and no unlisted
        file sits beside them. With no ID, ``defaults.json`` is checked too.
        """
        ids = [customization_id] if customization_id is not None else self._ids()
        problems: builtins.list[str] = []
        for cid in ids:
            problems.extend(self._verify_one(cid))
        if customization_id is None:
            problems.extend(self._verify_defaults())
        return problems

    # -- helpers ------------------------------------------------------------------------------

    def _ids(self) -> builtins.list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.root.iterdir()
            if not entry.name.startswith(".") and (entry.is_dir() or entry.is_symlink())
        )

    def _verify_one(self, cid: str) -> builtins.list[str]:
        try:
            manifest = self.get(cid)
        except AdapterError as error:
            return [f"{cid}: {error}"]
        folder = self.path(cid)
        problems = []
        for name, expected in sorted(manifest.files.items()):
            path = folder / name
            if not path.is_file():
                problems.append(f"{cid}: {name} is missing")
            elif (actual := sha256_file(path)) != expected:
                problems.append(f"{cid}: {name} has sha256 {actual}, the manifest says {expected}")
        listed = {*manifest.files, MANIFEST_FILE}
        for entry in sorted(folder.iterdir()):
            if entry.name not in listed:
                problems.append(f"{cid}: {entry.name} is not in the manifest")
        return problems

    def _verify_defaults(self) -> builtins.list[str]:
        try:
            defaults = self.defaults()
        except AdapterError as error:
            return [str(error)]
        problems = []
        for task, cid in sorted(defaults.items()):
            if task not in TASKS:
                problems.append(f"{DEFAULTS_FILE}: unknown task {task!r}")
                continue
            try:
                manifest = self.get(cid)
            except AdapterError as error:
                problems.append(f"{DEFAULTS_FILE}: {task} → {error}")
                continue
            if manifest.task != task:
                problems.append(f"{DEFAULTS_FILE}: {task} → {cid} is a {manifest.task} adapter")
        return problems


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise AdapterError(f"unknown task {task!r}; expected one of {TASKS}")


def _check_task_method(task: str, method: str) -> None:
    _check_task(task)
    if method not in METHODS:
        raise AdapterError(f"unknown method {method!r}; expected one of {METHODS}")


def _check_safetensors(path: Path) -> None:
    """A safetensors file starts with an 8-byte little-endian header length and a JSON header."""
    try:
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) != 8:
                raise AdapterError(f"{path} is not a safetensors file (too short)")
            (length,) = struct.unpack("<Q", prefix)
            if length > _MAX_SAFETENSORS_HEADER or length > path.stat().st_size - 8:
                raise AdapterError(f"{path} is not a safetensors file (bad header length)")
            header = json.loads(handle.read(length))
    except OSError as error:
        raise AdapterError(f"cannot read {path}: {error}") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise AdapterError(f"{path} is not a safetensors file (header is not JSON)") from error
    if not isinstance(header, dict):
        raise AdapterError(f"{path} is not a safetensors file (header is not an object)")


def _read_manifest(path: Path) -> Manifest:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise AdapterError(f"{path} does not exist") from error
    except (OSError, ValueError) as error:
        raise AdapterError(f"unreadable {path}: {error}") from error
    if not isinstance(data, dict):
        raise AdapterError(f"{path} is not a JSON object")
    return Manifest.from_dict(data)


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _write_json(path: Path, data: Any) -> None:
    path.write_text(_json_text(data), encoding="utf-8")


__all__ = [
    "DEFAULT_ROOT",
    "METHODS",
    "TASKS",
    "Manifest",
    "Registry",
    "new_customization_id",
]
