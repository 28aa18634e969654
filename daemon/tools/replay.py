"""`replyd replay-dead-letters`: put dead letters' original bytes back on the input topic.

The dead-letter topic is read from the beginning without a consumer group (nothing is committed,
so a replay can be repeated or run with ``--dry-run`` first). Each dead letter is either

- **filtered out**: its reason is not among the selected ones, or it failed before ``since``;
- **skipped**: its original was truncated (only a prefix was kept), or it is unreadable (not a
  ``DeadLetter``, or its bytes do not match ``original_sha256``): replaying a prefix would only
  produce another dead letter, so it is refused;
- **replayed**: the base64-decoded ``original_b64`` is sent unchanged to the input topic, with
  the dead-letter record's key (the original record's key, which the daemon copies) and a
  ``replyd-replayed-from`` header naming the dead letter's coordinates.

The reading stops at the end of the topic as it was when the read started: once every partition
is read up to the high watermark the broker reported, or once fetches have returned nothing for
``idle_s`` (some brokers, like the embedded Tansu, report wrong end offsets, so the high
watermark is only used where a fetch has reported it).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from daemon.contracts import DeadLetter
from daemon.settings import Settings

REPLAYED_FROM_HEADER = "replyd-replayed-from"
MAX_REQUEST_BYTES = 8 * 1024 * 1024 + 65_536


@dataclass(slots=True)
class Candidate:
    """One dead letter selected for replay: where it is, what goes back, and with which key."""

    coordinates: str  # "<dead-letter topic>/<partition>/<offset>"
    key: bytes | None
    original: bytes
    letter: DeadLetter


@dataclass(slots=True)
class ReplaySummary:
    """What a replay did (or, with ``dry_run``, would do)."""

    replayed: int = 0
    skipped_truncated: int = 0
    filtered_out: int = 0
    unreadable: int = 0
    dry_run: bool = False
    replayed_coordinates: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The summary line the CLI prints last."""
        text = (
            f"replay: {self.replayed} replayed, {self.skipped_truncated} skipped (truncated), "
            f"{self.filtered_out} filtered out"
        )
        if self.unreadable:
            text += f", {self.unreadable} skipped (unreadable)"
        if self.dry_run:
            text += " (dry run: nothing sent)"
        return text


def parse_since(value: str) -> datetime:
    """An ISO 8601 time; without a UTC offset it is taken as UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


async def read_dead_letters(
    settings: Settings, topic: str, idle_s: float = 1.0, timeout_s: float = 300.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the beginning to its end at the time of the read.

    No consumer group: nothing is committed. Stops when each assigned partition is read up to
    the high watermark a fetch reported, or after ``idle_s`` without a record, or at ``timeout_s``.
    """
    consumer = AIOKafkaConsumer(
        topic,
        **settings.kafka_common(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=MAX_REQUEST_BYTES,
        fetch_max_bytes=4 * MAX_REQUEST_BYTES,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    # The high watermark of each partition as first reported: the end at the start of the read.
    ends: dict[TopicPartition, int] = {}
    try:
        deadline = time.monotonic() + timeout_s
        last_record = time.monotonic()
        while time.monotonic() < deadline:
            fetched = await consumer.getmany(timeout_ms=200, max_records=500)
            for tp, batch in fetched.items():
                records.extend(r for r in batch if tp not in ends or r.offset < ends[tp])
            if fetched:
                last_record = time.monotonic()
            assignment = consumer.assignment()
            for tp in assignment:
                highwater = consumer.highwater(tp)
                if highwater is not None and tp not in ends:
                    ends[tp] = highwater
            if assignment and await _caught_up(consumer, assignment, ends):
                break
            if time.monotonic() - last_record >= idle_s:
                break
    finally:
        await consumer.stop()
    records.sort(key=lambda r: (r.partition, r.offset))
    return records


async def _caught_up(
    consumer: AIOKafkaConsumer,
    assignment: Collection[TopicPartition],
    ends: dict[TopicPartition, int],
) -> bool:
    """True when every partition's position has reached the end recorded for it."""
    for tp in assignment:
        if tp not in ends or await consumer.position(tp) < ends[tp]:
            return False
    return True


def select(
    records: list[ConsumerRecord[bytes, bytes]],
    reasons: Collection[str] | None,
    since: datetime | None,
    summary: ReplaySummary,
    echo: Callable[[str], None],
) -> list[Candidate]:
    """Apply the filters and the safety checks; count what is left out in ``summary``."""
    chosen: list[Candidate] = []
    for record in records:
        coordinates = f"{record.topic}/{record.partition}/{record.offset}"
        try:
            letter = DeadLetter.model_validate_json(record.value or b"")
            original = base64.b64decode(letter.original_b64, validate=True)
        except (ValidationError, binascii.Error, ValueError) as exc:
            summary.unreadable += 1
            echo(f"skip {coordinates}: not a readable dead letter ({type(exc).__name__})")
            continue
        if (reasons and letter.reason not in reasons) or (since and letter.failed_at < since):
            summary.filtered_out += 1
            continue
        source = f"{letter.source.topic}/{letter.source.partition}/{letter.source.offset}"
        if letter.original_truncated:
            summary.skipped_truncated += 1
            echo(
                f"skip {coordinates} ({letter.reason}, from {source}): original truncated, only "
                f"{len(original)} of {letter.original_size} bytes kept (sha256 "
                f"{letter.original_sha256}); cannot replay, recover it from the producer"
            )
            continue
        if hashlib.sha256(original).hexdigest() != letter.original_sha256:
            summary.unreadable += 1
            echo(f"skip {coordinates} ({letter.reason}, from {source}): original_sha256 mismatch")
            continue
        chosen.append(Candidate(coordinates, record.key, original, letter))
    return chosen


async def publish(settings: Settings, topic: str, candidates: list[Candidate]) -> None:
    """Send each candidate's original bytes to ``topic`` and wait for every acknowledgement."""
    if not candidates:
        return
    producer = AIOKafkaProducer(
        **settings.kafka_common(),
        acks="all",
        linger_ms=5,
        enable_idempotence=False,
        max_request_size=MAX_REQUEST_BYTES,
    )
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic,
                c.original,
                key=c.key,
                headers=[(REPLAYED_FROM_HEADER, c.coordinates.encode())],
            )
            for c in candidates
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def replay_dead_letters(
    settings: Settings,
    reasons: Collection[str] | None = None,
    since: datetime | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    idle_s: float = 1.0,
) -> ReplaySummary:
    """Replay the dead letters of ``settings.deadletter_topic`` onto ``settings.input_topic``.

    ``reasons``: only dead letters with one of these reasons (None or empty: all). ``since``: only
    those that failed at or after this time. ``dry_run``: report, send nothing. Per-letter lines
    and the reasons for skips go to ``echo``; the returned summary has the counts.
    """
    summary = ReplaySummary(dry_run=dry_run)
    records = await read_dead_letters(settings, settings.deadletter_topic, idle_s=idle_s)
    candidates = select(records, reasons, since, summary, echo)
    for c in candidates:
        letter = c.letter
        echo(
            f"{'would replay' if dry_run else 'replay'} {c.coordinates} ({letter.reason}, from "
            f"{letter.source.topic}/{letter.source.partition}/{letter.source.offset}, "
            f"{len(c.original)} bytes) -> {settings.input_topic}"
        )
    if not dry_run:
        await publish(settings, settings.input_topic, candidates)
    summary.replayed = len(candidates)
    summary.replayed_coordinates = [c.coordinates for c in candidates]
    return summary
