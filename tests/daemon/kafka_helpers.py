"""Small real-broker helpers for tests: send bytes, read a topic until a count is reached."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from daemon.settings import Settings
from daemon.tools.topics import ensure_topics


def email_bytes(i: int, body: str = "My AeroBlend 500 stopped working, please help.") -> bytes:
    return json.dumps(
        {
            "message_id": f"<test-{i}@example.com>",
            "from": f"customer{i}@example.com",
            "to": "support@replyd.example",
            "subject": f"Question {i}",
            "body": body,
            "received_at": datetime.now(UTC).isoformat(),
        }
    ).encode()


async def send(
    settings: Settings,
    values: Sequence[bytes],
    partitions: int = 1,
    headers: Sequence[tuple[str, bytes]] | None = None,
) -> None:
    """``values`` on the input topic, each with ``headers`` when given."""
    await ensure_topics(
        settings,
        [settings.input_topic, settings.drafts_topic, settings.deadletter_topic],
        partitions=partitions,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, max_request_size=8 * 1024 * 1024
    )
    await producer.start()
    try:
        futures = [await producer.send(settings.input_topic, value, headers=list(headers or []))
                   for value in values]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read(
    settings: Settings, topic: str, count: int, timeout_s: float = 60.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """All records of ``topic`` once at least ``count`` are there (fails after ``timeout_s``)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
            if len(records) >= count:
                # Drain a little longer so duplicates, if any, are seen too.
                for batch in (await consumer.getmany(timeout_ms=300)).values():
                    records.extend(batch)
                return records
    finally:
        await consumer.stop()
    raise AssertionError(f"{topic}: {len(records)} records after {timeout_s}s, wanted {count}")
