"""`replyd trial --rate`: offer the inputs to a running daemon at a steady rate.

The daemon is launched first and waited for (``/readyz`` answers 200, then a pause for the
consumer-group join, which the daemon announces nowhere), so start-up is in no email's wait;
each input then goes at ``started + i / rate``, its record timestamp set by us, so the trial
can measure input record → output record at that offered load.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from daemon.settings import Settings
from daemon.tools.produce import MAX_RAW_LINE_BYTES, HeaderedMessage

READY_POLL_S = 0.2
READY_TIMEOUT_S = 5.0  # one /readyz request
GROUP_JOIN_S = 1.5  # as daemon/tools/bench.py waits: the join is no part of the latency


async def http_status(port: int, path: str) -> int:
    """The status code of ``GET http://127.0.0.1:{port}{path}`` (0 when the answer is not
    HTTP); the body is read and dropped."""
    return (await http_get(port, path))[0]


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    """``GET http://127.0.0.1:{port}{path}``: the status code (0 when the answer is not HTTP)
    and the whole answer, headers included."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                     .encode("ascii"))
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    parts = answer.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return 0, answer
    return int(parts[1]), answer


async def wait_ready(port: int, exited: asyncio.Task[int], deadline: float) -> bool:
    """Poll ``/readyz`` until it answers 200 (True), or the daemon exits or ``deadline``
    (monotonic) passes (False)."""
    while not exited.done() and time.monotonic() < deadline:
        with contextlib.suppress(OSError, TimeoutError):
            if await asyncio.wait_for(http_status(port, "/readyz"), READY_TIMEOUT_S) == 200:
                return True
        await asyncio.sleep(READY_POLL_S)
    return False


async def produce_paced(settings: Settings, topic: str, messages: Sequence[HeaderedMessage],
                        rate: float, stopped: Callable[[], bool]) -> list[RecordMetadata]:
    """Send message ``i`` at ``started + i / rate`` (a schedule, so a slow send does not push
    every later one back) until all are sent or ``stopped()``; their acknowledgements in order.

    Each record carries the wall-clock time it was sent as its CreateTime, and that is the
    timestamp returned: aiokafka gives every record of one batch the first one's timestamp, so
    the metadata's own would be wrong whenever two sends share a batch."""
    largest = max((len(m[1]) for m in messages), default=0)
    producer = AIOKafkaProducer(**settings.kafka_common(), acks="all", linger_ms=0,
                                enable_idempotence=False,
                                max_request_size=max(MAX_RAW_LINE_BYTES, largest) + 65_536)
    await producer.start()
    try:
        pending: list[tuple[asyncio.Future[RecordMetadata], int]] = []
        started = time.monotonic()
        for i, (key, value, headers) in enumerate(messages):
            await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            if stopped():
                break
            sent_ms = int(time.time() * 1000)
            future = await producer.send(topic, value, key=key, headers=headers or None,
                                         timestamp_ms=sent_ms)
            pending.append((future, sent_ms))
        return [(await future)._replace(timestamp=sent_ms) for future, sent_ms in pending]
    finally:
        await producer.stop()


@dataclass
class Offered:
    """What the steady offer did: seconds from launch to ready (None: never), what was sent."""

    ready_s: float | None = None
    sent: list[RecordMetadata] = field(default_factory=list)


async def offer_steadily(settings: Settings, messages: Sequence[HeaderedMessage], rate: float,
                         port: int, exited: asyncio.Task[int], launched: float,
                         deadline: float) -> Offered:
    """Wait for the launched daemon to be ready and to have joined its group, then send the
    inputs at ``rate`` per second, stopping early if it exits or ``deadline`` passes."""
    offered = Offered()
    if not await wait_ready(port, exited, deadline):
        return offered
    offered.ready_s = time.monotonic() - launched
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(exited), GROUP_JOIN_S)
    offered.sent = await produce_paced(
        settings, settings.input_topic, messages, rate,
        lambda: exited.done() or time.monotonic() > deadline)
    return offered
