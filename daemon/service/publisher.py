"""Publishing: drafts and dead letters as per-partition record batches, their acknowledgements,
offset commits (at-least-once) and Kafka transactions (exactly-once).

No offset is committed before everything its record produced is acknowledged; in exactly-once
mode the outputs and the offsets go in one transaction per input partition, through that
partition's own transactional producer (daemon.service.transactions: zombie fencing).

Producer errors by kind: a retriable one (``err.retriable`` in aiokafka, and
``KafkaTimeoutError``: metadata that did not come, a batch that expired while the broker was
away) is retried with backoff, resending only the outputs not yet acknowledged (their
idempotency headers mark any duplicate); any other (a record too large, a topic we may not write)
raises ``BrokerRefusedError``: the process stops with exit code 4 and commits nothing of the
batch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    CommitFailedError,
    IllegalStateError,
    InvalidTopicError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    ProducerFenced,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
from aiokafka.structs import RecordMetadata

from daemon.service import codec
from daemon.service.metrics import Metrics
from daemon.service.partitioner import partition_for
from daemon.service.transactions import PartitionProducers, rewind
from daemon.settings import Settings
from models.errors import ReplydError
from models.retry import Backoff

log = logging.getLogger(__name__)
Record = ConsumerRecord[bytes, bytes]


class BrokerRefusedError(ReplydError):
    """The broker refused our output for good (a record too large, a topic we may not write):
    retrying cannot help. The process stops, committing nothing of the batch (``replyd run``
    exits with ``exit_code``)."""

    exit_code = 4


# Refusals for good, whatever the path (the transaction path retries everything else).
REFUSALS: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError,
    TopicAuthorizationFailedError, ClusterAuthorizationFailedError,
    TransactionalIdAuthorizationFailed, InvalidTopicError,
)


def is_refusal(exc: BaseException) -> bool:
    """A send error that no retry fixes: not ``retriable`` in aiokafka, other than a
    ``KafkaTimeoutError`` (the broker was away: metadata or a batch timed out)."""
    if isinstance(exc, REFUSALS):
        return True
    return isinstance(exc, KafkaError) and not exc.retriable and not isinstance(
        exc, KafkaTimeoutError)


def _fatal(producer: AIOKafkaProducer) -> bool:
    """Whether the producer's transaction state is beyond repair (fenced). aiokafka exposes no
    public call for it, and every transaction call on such a producer fails an assertion."""
    manager = getattr(producer, "_txn_manager", None)
    return manager is not None and manager.is_fatal_error()


async def _abort(producer: AIOKafkaProducer) -> None:
    with contextlib.suppress(KafkaError, IllegalStateError, AssertionError):
        await producer.abort_transaction()


def _retrieve(future: asyncio.Future[RecordMetadata]) -> None:
    """Done callback of a send given up on: its outcome is read so asyncio does not warn."""
    if not future.cancelled():
        future.exception()


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
    # Sends in flight: each record batch's delivery future and the outputs it carries.
    inflight: list[tuple[asyncio.Future[RecordMetadata], list[int]]] = field(default_factory=list)
    acked: list[bool] = field(default_factory=list)  # per output: acknowledged by the broker
    last_error: BaseException | None = None

    def by_partition(self) -> dict[TopicPartition, Batch]:
        """The batch split by input partition (each record's output goes with it)."""
        parts: dict[TopicPartition, Batch] = {}
        for record, output in zip(self.records, self.outputs, strict=True):
            tp = TopicPartition(record.topic, record.partition)
            part = parts.get(tp)
            if part is None:
                part = parts[tp] = Batch([], {tp: self.epochs[tp]})
            part.records.append(record)
            part.outputs.append(output)
        return parts

    def merged(self, other: Batch, limit: int) -> Batch | None:
        """This batch and ``other`` (fetched after it) as one, before inference; None when the
        two hold more than ``limit`` records, or a partition was reassigned between them."""
        if len(self.records) + len(other.records) > limit or any(
                self.epochs[tp] != epoch for tp, epoch in other.epochs.items()
                if tp in self.epochs):
            return None
        return Batch(self.records + other.records, {**self.epochs, **other.epochs})

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
        # At-least-once: one producer. Exactly-once: one per assigned input partition.
        self.producer: AIOKafkaProducer | None = None
        self.transactions: PartitionProducers | None = None
        if self.exactly_once:
            self.transactions = PartitionProducers(settings, self._transactional_producer)
        else:
            self.producer = self._make_producer()
        self.broker_connected = False

    def _common(self) -> dict[str, Any]:
        s = self.settings
        return dict(
            s.kafka_common(), acks="all", linger_ms=5, max_batch_size=s.producer_batch_bytes
        )

    def _transactional_producer(self, transactional_id: str) -> AIOKafkaProducer:
        return AIOKafkaProducer(**self._common(), transactional_id=transactional_id)

    async def start(self) -> None:
        """Start the at-least-once producer; exactly-once producers start with their partition
        (``assign``)."""
        if self.producer is not None:
            await self.producer.start()

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        if self.transactions is not None:
            await self.transactions.stop()

    async def assign(self, assigned: Iterable[TopicPartition], consumer: AIOKafkaConsumer,
                     stopping: asyncio.Event) -> None:
        """Exactly-once: start the producers of newly assigned partitions, fencing their last
        owners (daemon.service.transactions), then seek the consumer to the offsets as that
        settled them. No-op at-least-once."""
        if self.transactions is not None:
            partitions = list(assigned)
            await self.transactions.assign(partitions, stopping)
            await rewind(consumer, partitions, stopping)

    async def revoke(self, revoked: Iterable[TopicPartition]) -> None:
        """Exactly-once: the revoked partitions' transactions finish or are given up within
        ``revoke_transaction_timeout_s``; their producers stop. No-op at-least-once."""
        if self.transactions is not None:
            await self.transactions.revoke(revoked)

    def _make_producer(self) -> AIOKafkaProducer:
        s = self.settings
        common = self._common()
        # The embedded test broker cannot do idempotence (enable_idempotence=False there);
        # duplicates from retries then carry the idempotency key like any other.
        return AIOKafkaProducer(**common, enable_idempotence=s.enable_idempotence)

    async def send_into(
        self,
        outputs: Sequence[Output],
        indices: Sequence[int],
        inflight: list[tuple[asyncio.Future[RecordMetadata], list[int]]],
        producer: AIOKafkaProducer | None = None,
    ) -> None:
        """Queue ``outputs[i]`` for each ``i`` in ``indices`` as record batches, one run per
        partition, in order within each; each batch's delivery future and the indices it carries
        go into ``inflight`` as soon as it is queued, so a failure part-way loses track of
        nothing. Raises aiokafka's errors (e.g. ``KafkaTimeoutError`` when metadata does not
        come), and ``BrokerRefusedError`` before sending a record over ``max_record_bytes``.

        Partitions are the default partitioner's (murmur2 of the key), so a draft lands where
        ``producer.send`` would put it; building the batches here costs a fraction of one
        ``send`` per record. ``producer``: a partition's transactional producer (exactly-once)."""
        producer = producer or self.producer
        assert producer is not None
        limit = self.settings.max_record_bytes
        by_partition: dict[tuple[str, int], list[int]] = {}
        partitions: dict[str, list[int]] = {}
        for i in indices:
            output = outputs[i]
            if (size := codec.record_bytes(output.key, output.value, output.headers)) > limit:
                raise BrokerRefusedError(
                    f"a {output.kind} record of {size} bytes exceeds max_record_bytes {limit}")
            ids = partitions.get(output.topic)
            if ids is None:
                ids = partitions[output.topic] = sorted(await producer.partitions_for(output.topic))
            target = (output.topic, partition_for(output.key, ids))
            by_partition.setdefault(target, []).append(i)
        for (topic, partition), run in by_partition.items():
            batch = producer.create_batch()
            carried: list[int] = []
            for i in run:
                output = outputs[i]
                record = {"timestamp": None, "key": output.key, "value": output.value,
                          "headers": output.headers}
                if batch.append(**record) is None:  # full: send it, start the next with this
                    future = await producer.send_batch(batch, topic, partition=partition)
                    inflight.append((future, carried))
                    batch, carried = producer.create_batch(), []
                    batch.append(**record)  # an empty batch takes any one record
                carried.append(i)
            batch.close()  # complete: no linger
            inflight.append((await producer.send_batch(batch, topic, partition=partition), carried))

    async def send(self, batch: Batch) -> None:
        """At-least-once: queue every output of the batch. A retriable failure is left to
        ``until_acknowledged`` (which resends what did not go); a refusal raises."""
        batch.acked = [False] * len(batch.outputs)
        batch.inflight = []
        await self._try_send(batch, range(len(batch.outputs)))

    async def _try_send(self, batch: Batch, indices: Sequence[int]) -> None:
        try:
            await self.send_into(batch.outputs, indices, batch.inflight)
        except KafkaError as exc:
            if is_refusal(exc):
                raise self._refused(exc) from exc
            self.broker_connected = False
            batch.last_error = exc

    def _refused(self, exc: BaseException) -> BrokerRefusedError:
        log.error("the broker refused our output; stopping without committing the batch",
                  extra={"error": repr(exc)})
        return BrokerRefusedError(f"the broker refused our output: {exc!r}")

    async def until_acknowledged(self, batch: Batch) -> None:
        """Wait for every output's acknowledgement; resend, with backoff, only the outputs not
        acknowledged (failed, not queued, or not answered within ``publish_timeout_s``) until
        all are. Nothing is committed meanwhile, so giving up (a stop) loses nothing. Raises
        ``BrokerRefusedError`` when the broker refuses an output for good."""
        backoff = Backoff(0.5)
        while True:
            await self._settle(batch)
            missing = [i for i, acked in enumerate(batch.acked) if not acked]
            if not missing:
                self.broker_connected = True
                return
            self.broker_connected = False
            log.warning("publish failed; resending the unacknowledged outputs",
                        extra={"error": repr(batch.last_error), "resending": len(missing),
                               "acknowledged": len(batch.acked) - len(missing)})
            self.metrics.publish_retries.inc()
            await backoff.wait()
            await self._try_send(batch, missing)

    async def _settle(self, batch: Batch) -> None:
        """Wait for the sends in flight (up to ``publish_timeout_s``) and mark what they
        acknowledged; sends still unanswered are given up on (their outputs go again)."""
        if batch.inflight:
            await asyncio.wait([f for f, _ in batch.inflight],
                               timeout=self.settings.publish_timeout_s)
        for future, indices in batch.inflight:
            if not future.done():
                future.add_done_callback(_retrieve)
                batch.last_error = TimeoutError(
                    f"no acknowledgement within {self.settings.publish_timeout_s} s")
                continue
            error = None if future.cancelled() else future.exception()
            if future.cancelled():
                batch.last_error = asyncio.CancelledError("send cancelled")
            elif error is None:
                for i in indices:
                    batch.acked[i] = True
            elif is_refusal(error):
                raise self._refused(error) from error
            else:
                batch.last_error = error
        batch.inflight = []

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

    async def publish_transaction(
        self,
        batch: Batch,
        current: Callable[[Batch], Batch],
        abandon: Callable[[Batch], None],
    ) -> Batch:
        """Exactly-once: per input partition, its outputs and its offset in one transaction of
        that partition's producer, retried until it commits, the partition is revoked, or its
        producer is fenced. ``current`` drops (and releases) records whose partition was revoked
        since they were fetched; ``abandon`` releases records given up here (fenced, or revoked
        mid-transaction): the partition's new owner replays them. Returns what was committed."""
        assert self.transactions is not None
        started = time.perf_counter()
        parts = batch.by_partition()
        done = await asyncio.gather(
            *(self._publish_partition(tp, part, current, abandon) for tp, part in parts.items()))
        published = Batch([], batch.epochs)
        for part in done:
            published.records.extend(part.records)
            published.outputs.extend(part.outputs)
        if published.records:
            self.metrics.stage_latency.labels("publish").observe(time.perf_counter() - started)
        return published

    async def _publish_partition(
        self,
        tp: TopicPartition,
        part: Batch,
        current: Callable[[Batch], Batch],
        abandon: Callable[[Batch], None],
    ) -> Batch:
        transactions = self.transactions
        assert transactions is not None
        async with transactions.lock(tp):
            part = current(part)
            if not part.records:
                return part
            producer = transactions.producer(tp)
            committed = producer is not None and await transactions.run(
                tp, self._transaction(tp, part, producer))
            if committed:
                return part
            abandon(part)
            return Batch([], part.epochs)

    async def _transaction(self, tp: TopicPartition, part: Batch, producer: AIOKafkaProducer
                           ) -> bool:
        """One partition's transaction, retried while the broker is away; False when the
        producer was fenced or revoked meanwhile (nothing of it is committed)."""
        assert self.transactions is not None
        backoff = Backoff(0.5)
        offsets = part.offsets()
        while self.transactions.producer(tp) is producer:
            try:
                await producer.begin_transaction()
                inflight: list[tuple[asyncio.Future[RecordMetadata], list[int]]] = []
                await self.send_into(part.outputs, range(len(part.outputs)), inflight, producer)
                await asyncio.gather(*(future for future, _ in inflight))
                await producer.send_offsets_to_transaction(offsets, self.settings.group_id)
                await producer.commit_transaction()
                self.metrics.last_commit.set_to_current_time()
                self.broker_connected = True
                return True
            except ProducerFenced as exc:  # InvalidProducerEpoch too
                await self._fenced(tp, exc)
                return False
            except (*REFUSALS, BrokerRefusedError) as exc:
                await _abort(producer)
                if isinstance(exc, BrokerRefusedError):
                    raise
                raise self._refused(exc) from exc
            except KafkaError as exc:
                self.broker_connected = False
                log.warning("transaction failed; retrying",
                            extra={"partition": tp.partition, "error": repr(exc)})
                self.metrics.publish_retries.inc()
                await _abort(producer)
                if _fatal(producer):
                    await self._fenced(tp, exc)
                    return False
                await backoff.wait()
        return False

    async def _fenced(self, tp: TopicPartition, exc: BaseException) -> None:
        """Another instance took the partition over (its producer fenced ours): nothing of this
        transaction commits; the partition publishes nothing more until assigned again."""
        log.warning("partition taken over by another instance; dropping its uncommitted outputs",
                    extra={"topic": tp.topic, "partition": tp.partition, "error": repr(exc)})
        assert self.transactions is not None
        await self.transactions.fenced(tp)
