"""`replyd produce`: put emails on a topic, from a JSONL file, the synthetic generator, or raw
lines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from pydantic import ValidationError

from daemon.contracts import IncomingEmail
from daemon.settings import Settings
from daemon.tools.jsonl import numbered_lines
from models.errors import ConfigurationError

MAX_RAW_LINE_BYTES = 4 * 1024 * 1024
Message = tuple[bytes | None, bytes]  # (key, value)


def from_jsonl(path: Path) -> list[Message]:
    """Every non-empty line must be an IncomingEmail; all are checked before anything is sent,
    and each is sent as the bytes it is in the file."""
    messages: list[Message] = []
    problems: list[str] = []
    for number, line in numbered_lines(path):
        try:
            email = IncomingEmail.model_validate_json(line)
        except ValidationError as exc:
            problems.append(f"line {number}: {exc.errors(include_input=False)[0]['msg']}")
            continue
        messages.append((email.message_id.encode(), line.rstrip(b"\r\n")))
    if problems:
        shown = "; ".join(problems[:5])
        raise ConfigurationError(
            f"{path}: {len(problems)} invalid line(s), nothing sent ({shown}); use --raw to send "
            "bytes unchecked"
        )
    return messages


def from_raw(path: Path) -> list[Message]:
    """Each line (empty ones included) as one message, bytes unchanged, no key."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()  # the newline ends the last line; it does not start an empty one
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_RAW_LINE_BYTES:
            raise ConfigurationError(
                f"{path}: line {number} is {len(line)} bytes; --raw sends at most "
                f"{MAX_RAW_LINE_BYTES}"
            )
    return [(None, line) for line in lines]


def synthetic(n: int, seed: int) -> list[Message]:
    """``n`` realistic synthetic customer emails (the project's own generator)."""
    from models.synth.emails import generate_emails

    now = datetime.now(UTC)
    emails = generate_emails(n, seed=seed, split="eval")
    return [
        (email.message_id.encode(), json.dumps(email.as_incoming(now)).encode())
        for email in emails
    ]


def iter_batches(messages: Sequence[Message], size: int) -> Iterator[Sequence[Message]]:
    for start in range(0, len(messages), size):
        yield messages[start : start + size]


async def produce(
    settings: Settings, topic: str, messages: Sequence[Message]
) -> list[RecordMetadata]:
    """Send every message and wait for each acknowledgement; returns their coordinates in order."""
    producer = AIOKafkaProducer(
        **settings.kafka_common(),
        acks="all",
        linger_ms=5,
        enable_idempotence=False,
        max_request_size=MAX_RAW_LINE_BYTES + 65_536,
    )
    await producer.start()
    try:
        acknowledged: list[RecordMetadata] = []
        for chunk in iter_batches(messages, 1000):
            futures = [await producer.send(topic, value, key=key) for key, value in chunk]
            acknowledged.extend(await asyncio.gather(*futures))
        return acknowledged
    finally:
        await producer.stop()
