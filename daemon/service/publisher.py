"""Publishing: drafts and dead letters as per-partition record batches, their acknowledgements,
offset commits (at-least-once) and Kafka transactions (exactly-once).

No offset is committed before everything its record produced is acknowledged; in exactly-once
mode the outputs and the offsets go in one transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError, ProducerFenced
from aiokafka.structs import RecordMetadata

from daemon.service.metrics import Metrics
from daemon.service.partitioner import partition_for
from daemon.settings import Settings
from models.errors import ReplydError
from models.retry import Backoff

log = logging.getLogger(__name__)
Record = ConsumerRecord[bytes, bytes]


class FencedError(ReplydError):
    """Another instance took over our transactional id; this one must stop."""


@dataclass(slots=True)  # one per email: not frozen, which costs a setattr call per field
class Output:
    """One record to publish: a draft or a dead letter."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    kind: str  # "draft" or a dead-letter reason


@dataclass(slots=True)
class Batch:
    """Fetched records and the assignment epoch of each partition when they were fetched."""

    records: list[Record]
    epochs: dict[TopicPartition, int]
    outputs: list[Output] = field(default_factory=list)
    futures: list[Awaitable[RecordMetadata]] = field(default_factory=list)

    def offsets(self) -> dict[TopicPartition, int]:
        offsets: dict[TopicPartition, int] = {}
        for record in self.records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, -1), record.offset + 1)
        return offsets


class Publisher:
    """The producer side of one daemon: sends, acknowledgements, commits, transactions."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.exactly_once = settings.processing_guarantee == "exactly_once"
        self.producer = self._make_producer()
        self.broker_connected = False
        # A transaction under way completes before partitions change hands (see the daemon).
        self.txn_lock = asyncio.Lock()

    def _make_producer(self) -> AIOKafkaProducer:
        s = self.settings
        common = dict(
            s.kafka_common(), acks="all", linger_ms=5, max_batch_size=s.producer_batch_bytes
        )
        if self.exactly_once:
            transactional_id = s.transactional_id or f"replyd-{s.group_id}-{socket.gethostname()}"
            return AIOKafkaProducer(**common, transactional_id=transactional_id)
        # Idempotence is off because the embedded test broker cannot do it; duplicates from
        # retries are covered by the idempotency key like any at-least-once duplicate.
        return AIOKafkaProducer(**common, enable_idempotence=False)

    async def send(self, outputs: Sequence[Output]) -> list[Awaitable[RecordMetadata]]:
        """Queue the outputs as record batches, one run per partition, in order within each.

        Partitions are the default partitioner's (murmur2 of the key), so a draft lands where
        ``producer.send`` would put it; building the batches here costs a fraction of one
        ``send`` per record. Returns one delivery future per record batch."""
        producer = self.producer
        by_partition: dict[tuple[str, int], list[Output]] = {}
        partitions: dict[str, list[int]] = {}
        for output in outputs:
            ids = partitions.get(output.topic)
            if ids is None:
                ids = partitions[output.topic] = sorted(await producer.partitions_for(output.topic))
            target = (output.topic, partition_for(output.key, ids))
            by_partition.setdefault(target, []).append(output)
        futures: list[Awaitable[RecordMetadata]] = []
        for (topic, partition), run in by_partition.items():
            batch = producer.create_batch()
            for output in run:
                record = {"timestamp": None, "key": output.key, "value": output.value,
                          "headers": output.headers}
                if batch.append(**record) is None:  # full: send it, start the next with this
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(**record)  # an empty batch takes any one record
            batch.close()  # complete: no linger
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        return futures

    async def until_acknowledged(self, batch: Batch) -> None:
        """Wait for every send; on failure, resend the batch with backoff until it goes through.
        Nothing is committed meanwhile, so giving up (a stop) loses nothing."""
        backoff = Backoff(0.5)
        while True:
            try:
                await asyncio.wait_for(
                    asyncio.gather(*batch.futures), self.settings.publish_timeout_s
                )
                self.broker_connected = True
                return
            except (KafkaError, TimeoutError) as exc:
                self.broker_connected = False
                log.warning("publish failed; resending", extra={"error": repr(exc)})
                self.metrics.publish_retries.inc()
                await backoff.wait()
                batch.futures = await self.send(batch.outputs)

    async def commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        """Commit input offsets (at-least-once), retrying while the broker is unreachable."""
        if not offsets:
            return
        backoff = Backoff(0.5)
        while True:
            try:
                await consumer.commit(offsets)
                self.metrics.last_commit.set_to_current_time()
                return
            except (CommitFailedError, IllegalStateError) as exc:
                # The group moved on (rebalance): the new owner replays these records.
                log.warning("commit refused after rebalance", extra={"error": repr(exc)})
                return
            except KafkaError as exc:
                self.broker_connected = False
                log.warning("commit failed; retrying", extra={"error": repr(exc)})
                await backoff.wait()

    async def publish_transaction(self, batch: Batch, current: Callable[[Batch], Batch]) -> Batch:
        """Exactly-once: outputs and input offsets in one transaction, retried until it commits.
        ``current`` drops records whose partition was revoked since they were fetched; returns
        the batch that was published (possibly empty)."""
        producer = self.producer
        backoff = Backoff(0.5)
        async with self.txn_lock:
            batch = current(batch)
            if not batch.records:
                return batch
            started = time.perf_counter()
            while True:
                try:
                    await producer.begin_transaction()
                    futures = await self.send(batch.outputs)
                    await asyncio.gather(*futures)
                    await producer.send_offsets_to_transaction(
                        batch.offsets(), self.settings.group_id
                    )
                    await producer.commit_transaction()
                    self.metrics.last_commit.set_to_current_time()
                    self.broker_connected = True
                    break
                except ProducerFenced as exc:
                    raise FencedError(f"transactional id taken over by another instance: {exc}") from exc
                except KafkaError as exc:
                    self.broker_connected = False
                    log.warning("transaction failed; retrying", extra={"error": repr(exc)})
                    self.metrics.publish_retries.inc()
                    with contextlib.suppress(KafkaError, IllegalStateError):
                        await producer.abort_transaction()
                    await backoff.wait()
            self.metrics.stage_latency.labels("publish").observe(time.perf_counter() - started)
        return batch
