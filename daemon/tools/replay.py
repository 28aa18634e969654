"""`replyd replay-dead-letters`: put dead letters' original bytes back on the input topic.

Replay reads only ``settings.deadletter_topic`` and writes only ``settings.input_topic``. It
consumes the dead-letter topic as a consumer group (``replyd-replay-<input topic>`` unless told
another), so it remembers: the offsets of the dead letters it has handled (replayed or skipped)
are committed once every replayed record before them is acknowledged by the broker, and the next
run starts after them. A second run never resends what the first one replayed; to revisit
letters a run skipped (say, ``schema`` ones after the producer was fixed), run under a new group
with ``--reasons``. A crash between the acknowledgements and the commit resends that batch
(at least once, never silently lost).

Each dead letter is either

- **replayed**: its reason is selected (by default only ``TRANSIENT_DEAD_LETTER_REASONS``), its
  source topic is the input topic and its whole original was kept: the base64-decoded
  ``original_b64`` goes unchanged to the input topic with the dead-letter record's key (the
  original record's key, which the daemon copies), the original record's headers the letter
  preserved (``replyd.original.<name>``: content-type, traceparent, a producer's own; not
  replyd's own ``replyd-*``/``replyd.*`` ones) under their own names again, and a
  ``replyd-replayed-from`` header naming the dead letter's coordinates (``<dead-letter
  topic>/<partition>/<offset>``). A letter without preserved headers (written before they were
  kept, or dropped to fit) gets the ``content-type`` its ``original_content_type`` names;
- **skipped**, counted by why: ``unreadable`` (not a ``DeadLetter``), ``foreign_source`` (its
  source topic is not the input topic: replaying would move records between topics),
  ``reason_not_selected``, ``before_since``, ``truncated`` (only a prefix was kept: replaying it
  would only make another dead letter) or ``sha256_mismatch``.

What ``original_sha256`` proves: the daemon writes it and ``original_b64`` into the same letter,
so a match shows only that the letter is internally consistent (not corrupted or edited in one
field). It does not prove the bytes are what the producer sent, nor who wrote the letter: anyone
who may write to the dead-letter topic can write a consistent one, so that topic's write ACL is
what guards the input topic here.

``dry_run`` reads the same letters (from the group's committed offsets, without joining the
group), sends nothing and commits nothing. Email text is never printed: only coordinates,
reasons and sizes (not a letter's ``error``, which may quote the email).

The reading stops at the end of the topic as it was when the read started: once every partition
is read up to the high watermark a fetch reported, or once fetches have returned nothing for
``idle_s`` (some brokers, like the embedded Tansu, report wrong end offsets).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import hashlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from daemon.contracts import DeadLetter
from daemon.service.codec import CONTENT_TYPE_HEADER
from daemon.service.headers import restored_headers
from daemon.settings import Settings
from models.errors import ConfigurationError, ReplydError
from models.vocabulary import DEAD_LETTER_REASONS, TRANSIENT_DEAD_LETTER_REASONS

REPLAYED_FROM_HEADER = "replyd-replayed-from"
MAX_REQUEST_BYTES = 8 * 1024 * 1024 + 65_536
# Why a dead letter is not replayed: the first element of ReplaySummary.skipped's keys.
UNREADABLE = "unreadable"
FOREIGN_SOURCE = "foreign_source"
NOT_SELECTED = "reason_not_selected"
BEFORE_SINCE = "before_since"
TRUNCATED = "truncated"
SHA256_MISMATCH = "sha256_mismatch"
UNKNOWN_REASON = "?"  # the reason of an unreadable letter


def default_group(settings: Settings) -> str:
    """The consumer group replay commits under when none is given."""
    return f"replyd-replay-{settings.input_topic}"


@dataclass(slots=True)
class Decision:
    """What replay does with one dead-letter record: replay ``original`` (``skip`` None) or
    skip it for ``skip``; ``detail`` says why, without any email text."""

    record: ConsumerRecord[bytes, bytes]
    reason: str
    skip: str | None
    detail: str
    original: bytes = b""
    content_type: str | None = None  # the original record's content-type header
    headers: list[tuple[str, bytes]] = field(default_factory=list)  # the original's, restored

    @property
    def coordinates(self) -> str:
        return f"{self.record.topic}/{self.record.partition}/{self.record.offset}"


@dataclass(slots=True)
class ReplaySummary:
    """What a replay did (or, with ``dry_run``, would do), counted by dead-letter reason."""

    group: str
    dry_run: bool = False
    replayed: Counter[str] = field(default_factory=Counter)  # reason -> letters replayed
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)  # (why, reason) -> letters
    committed: dict[str, int] = field(default_factory=dict)  # "topic/partition" -> next offset
    replayed_coordinates: list[str] = field(default_factory=list)

    @property
    def replayed_total(self) -> int:
        return sum(self.replayed.values())

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skipped_for(self, why: str) -> int:
        """Letters skipped for ``why`` (one of the module's skip constants), any reason."""
        return sum(n for (cause, _), n in self.skipped.items() if cause == why)

    def lines(self) -> list[str]:
        """The counts by reason, one line each, then the summary line."""
        replay, skip = ("would replay", "would skip") if self.dry_run else ("replayed", "skipped")
        out = [f"  {replay} {reason}: {n}" for reason, n in sorted(self.replayed.items())]
        out += [
            f"  {skip} {reason}: {n} ({why})"
            for (why, reason), n in sorted(self.skipped.items(), key=lambda item: item[0][::-1])
        ]
        return [*out, self.line()]

    def line(self) -> str:
        """The summary line the CLI prints last."""
        by_why: Counter[str] = Counter()
        for (why, _), n in self.skipped.items():
            by_why[why] += n
        replayed = _counts(self.replayed)
        skipped = _counts(by_why)
        if self.dry_run:
            return (
                f"replay (dry run): would replay {self.replayed_total}{replayed}, would skip "
                f"{self.skipped_total}{skipped}; nothing sent, nothing committed"
            )
        return (
            f"replay: {self.replayed_total} replayed{replayed}, {self.skipped_total} "
            f"skipped{skipped}; group {self.group}"
        )


def _counts(counter: Counter[str]) -> str:
    if not counter:
        return ""
    return " (" + ", ".join(f"{key}={n}" for key, n in sorted(counter.items())) + ")"


def parse_since(value: str) -> datetime:
    """An ISO 8601 time; without a UTC offset it is taken as UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_reasons(value: str) -> list[str]:
    """``a,b`` → ``["a", "b"]``; every one must be a dead-letter reason."""
    reasons = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [r for r in reasons if r not in DEAD_LETTER_REASONS]
    if not reasons or unknown:
        raise ValueError(
            f"unknown reason(s) {unknown or [value]}; known: {', '.join(DEAD_LETTER_REASONS)}"
        )
    return reasons


def decide(
    record: ConsumerRecord[bytes, bytes],
    input_topic: str,
    reasons: Collection[str],
    since: datetime | None,
) -> Decision:
    """Replay or skip one dead-letter record, and why."""
    try:
        letter = DeadLetter.model_validate_json(record.value or b"")
        original = base64.b64decode(letter.original_b64, validate=True)
    except (ValidationError, binascii.Error, ValueError) as exc:
        return Decision(record, UNKNOWN_REASON, UNREADABLE,
                        f"not a readable dead letter ({type(exc).__name__})")
    reason = letter.reason
    source = f"{letter.source.topic}/{letter.source.partition}/{letter.source.offset}"
    if letter.source.topic != input_topic:
        return Decision(record, reason, FOREIGN_SOURCE,
                        f"from {source}: its source topic is not the input topic {input_topic}")
    if reason not in reasons:
        return Decision(record, reason, NOT_SELECTED,
                        f"from {source}: reason not selected (--reasons {reason} to replay it)")
    if since is not None and letter.failed_at < since:
        return Decision(record, reason, BEFORE_SINCE,
                        f"from {source}: failed at {letter.failed_at.isoformat()}, before --since")
    if letter.original_truncated:
        return Decision(
            record, reason, TRUNCATED,
            f"from {source}: original truncated, only {len(original)} of "
            f"{letter.original_size} bytes kept (sha256 {letter.original_sha256}); cannot "
            "replay, recover it from the producer",
        )
    if hashlib.sha256(original).hexdigest() != letter.original_sha256:
        return Decision(record, reason, SHA256_MISMATCH,
                        f"from {source}: original_sha256 does not match original_b64 (corrupted "
                        "or edited letter)")
    return Decision(record, reason, None, f"from {source}, {len(original)} bytes", original,
                    letter.original_content_type, restored_headers(record.headers))


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[TopicPartition]:
    if topic not in await consumer.topics():
        raise ConfigurationError(f"dead-letter topic {topic} does not exist")
    return {TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()}


async def _batches(
    consumer: AIOKafkaConsumer, idle_s: float, timeout_s: float
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """Batches of records up to the end of the assigned partitions at the time of the read."""
    ends: dict[TopicPartition, int] = {}  # the high watermark as first reported: the end
    deadline = time.monotonic() + timeout_s
    last_record: float | None = None  # the idle clock starts once partitions are assigned
    while time.monotonic() < deadline:
        fetched = await consumer.getmany(timeout_ms=200, max_records=500)
        batch = [r for tp, records in fetched.items() for r in records
                 if tp not in ends or r.offset < ends[tp]]
        assignment = consumer.assignment()
        for tp in assignment:
            highwater = consumer.highwater(tp)
            if highwater is not None and tp not in ends:
                ends[tp] = highwater
        if batch:
            yield sorted(batch, key=lambda r: (r.partition, r.offset))
        if not assignment:
            continue  # still joining the group
        now = time.monotonic()
        if fetched or last_record is None:
            last_record = now
        if await _caught_up(consumer, assignment, ends):
            return
        if now - last_record >= idle_s:
            return
    if not consumer.assignment():
        raise ReplydError(f"no dead-letter partitions assigned within {timeout_s:.0f}s (is "
                          "another replay running under the same group?)")


async def _caught_up(consumer: AIOKafkaConsumer, assignment: Collection[TopicPartition],
                     ends: dict[TopicPartition, int]) -> bool:
    """True when every partition's position has reached the end recorded for it."""
    for tp in assignment:
        if tp not in ends or await consumer.position(tp) < ends[tp]:
            return False
    return True


async def _publish(
    producer: AIOKafkaProducer, topic: str, replays: list[Decision]
) -> dict[str, BaseException]:
    """Send every replay and wait for the acknowledgements; the failures by coordinates."""
    failures: dict[str, BaseException] = {}
    pending: list[tuple[Decision, asyncio.Future[object]]] = []
    for d in replays:
        try:
            headers = [*d.headers, (REPLAYED_FROM_HEADER, d.coordinates.encode())]
            restored = any(name.lower() == CONTENT_TYPE_HEADER for name, _ in d.headers)
            if d.content_type and not restored:  # raw mail is read as raw mail again
                headers.append((CONTENT_TYPE_HEADER, d.content_type.encode("latin-1")))
            future = await producer.send(topic, d.original, key=d.record.key, headers=headers)
        except Exception as exc:  # counted; it blocks the commit past it
            failures[d.coordinates] = exc
        else:
            pending.append((d, future))
    results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
    for (d, _), result in zip(pending, results, strict=True):
        if isinstance(result, BaseException):
            failures[d.coordinates] = result
    return failures


def commit_offsets(decisions: list[Decision], failed: Collection[str]) -> dict[TopicPartition, int]:
    """Per partition, the offset after the last handled letter that precedes the first failure."""
    offsets: dict[TopicPartition, int] = {}
    blocked: set[TopicPartition] = set()
    for d in sorted(decisions, key=lambda d: (d.record.partition, d.record.offset)):
        tp = TopicPartition(d.record.topic, d.record.partition)
        if tp in blocked:
            continue
        if d.coordinates in failed:
            blocked.add(tp)
            continue
        offsets[tp] = d.record.offset + 1
    return offsets


async def replay_dead_letters(
    settings: Settings,
    reasons: Collection[str] | None = None,
    since: datetime | None = None,
    dry_run: bool = False,
    group: str | None = None,
    echo: Callable[[str], None] = print,
    idle_s: float = 1.0,
    timeout_s: float = 300.0,
) -> ReplaySummary:
    """Replay the dead letters of ``settings.deadletter_topic`` onto ``settings.input_topic``.

    ``reasons``: replay these reasons (None: ``TRANSIENT_DEAD_LETTER_REASONS``). ``since``: only
    those that failed at or after this time. ``group``: the consumer group whose offsets record
    what was handled (None: ``default_group``). ``dry_run``: report, send and commit nothing.
    Per-letter lines go to ``echo``; the returned summary has the counts.
    """
    if settings.deadletter_topic == settings.input_topic:
        raise ConfigurationError("the dead-letter topic and the input topic are the same topic")
    selected = set(TRANSIENT_DEAD_LETTER_REASONS if reasons is None else reasons)
    summary = ReplaySummary(group=group or default_group(settings), dry_run=dry_run)
    consumer = AIOKafkaConsumer(
        **settings.kafka_common(),
        group_id=summary.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_poll_interval_ms=settings.max_poll_interval_ms,
        max_partition_fetch_bytes=MAX_REQUEST_BYTES,
        fetch_max_bytes=4 * MAX_REQUEST_BYTES,
    )
    producer: AIOKafkaProducer | None = None
    await consumer.start()
    try:
        partitions = await _partitions(consumer, settings.deadletter_topic)
        if dry_run:  # read from the group's offsets without joining it: nobody's rebalance
            consumer.assign(list(partitions))
        else:
            consumer.subscribe([settings.deadletter_topic])
        async for batch in _batches(consumer, idle_s, timeout_s):
            decisions = [decide(r, settings.input_topic, selected, since) for r in batch]
            replays = [d for d in decisions if d.skip is None]
            for d in decisions:
                verb = "replay" if d.skip is None else "skip"
                why = "" if d.skip is None else f" [{d.skip}]"
                echo(f"{'would ' if dry_run else ''}{verb} {d.coordinates} ({d.reason}){why}: "
                     f"{d.detail}")
            failed: dict[str, BaseException] = {}
            if replays and not dry_run:
                if producer is None:
                    producer = AIOKafkaProducer(**settings.kafka_common(), acks="all",
                                                linger_ms=5, enable_idempotence=False,
                                                max_request_size=MAX_REQUEST_BYTES)
                    await producer.start()
                failed = await _publish(producer, settings.input_topic, replays)
            for d in decisions:
                if d.skip is not None:
                    summary.skipped[(d.skip, d.reason)] += 1
                elif d.coordinates not in failed:
                    summary.replayed[d.reason] += 1
                    summary.replayed_coordinates.append(d.coordinates)
            if dry_run:
                continue
            offsets = commit_offsets(decisions, failed)
            if offsets:
                await consumer.commit(offsets)
                summary.committed.update({f"{tp.topic}/{tp.partition}": o
                                          for tp, o in offsets.items()})
            if failed:
                first = next(iter(failed.items()))
                raise ReplydError(
                    f"{len(failed)} replayed records were not acknowledged (first: {first[0]}: "
                    f"{type(first[1]).__name__}); offsets are committed up to the first failure "
                    "in each partition, so a rerun resends from there"
                )
    finally:
        if producer is not None:
            await producer.stop()
        await consumer.stop()
    return summary


def cmd_replay_dead_letters(args: argparse.Namespace) -> int:
    """``replyd replay-dead-letters``: the flags of daemon.cli's parser, then the summary."""
    from daemon.cli import settings_from

    password = None
    if args.sasl_password_file is not None:
        try:
            password = args.sasl_password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigurationError(f"--sasl-password-file: {exc.strerror}") from exc
    settings = settings_from(args, sasl_password=password)
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        raise ConfigurationError(f"--since takes an ISO 8601 time: {exc}") from exc
    reasons: list[str] | None = None
    if args.all_reasons:
        reasons = list(DEAD_LETTER_REASONS)
    elif args.reasons:
        try:
            reasons = [r for value in args.reasons for r in parse_reasons(value)]
        except ValueError as exc:
            raise ConfigurationError(f"--reasons: {exc}") from exc
    summary = asyncio.run(replay_dead_letters(
        settings, reasons=reasons, since=since, dry_run=args.dry_run, group=args.replay_group))
    print("\n".join(summary.lines()))
    return 0
