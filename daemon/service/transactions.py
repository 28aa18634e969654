"""Exactly-once: one transactional producer per assigned input partition (zombie fencing).

aiokafka commits transactional offsets without the group generation (TxnOffsetCommit v0, no
KIP-447), so the broker cannot tell that a member which stalled past its session timeout lost
its partitions. The fence is the transactional id instead, the scheme Kafka Streams used before
KIP-447: the producer of input partition ``topic-p`` is ``<prefix>-<topic>-<p>`` on whichever
instance owns it. A new owner starts that producer (``InitProducerId``), which bumps the id's
epoch and aborts any transaction the last owner left open; from then on every send, offset
commit or transaction commit of the old owner's producer fails with ``ProducerFenced``.

A partition's producer lives from its assignment to its revocation. Its lock serialises the
partition's transactions with the revocation, which waits for a transaction under way at most
``revoke_transaction_timeout_s``, then cancels it (the next owner's producer aborts it on the
broker) and stops the producer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaConnectionError, KafkaError

from daemon.settings import Settings
from models.retry import Backoff

log = logging.getLogger(__name__)


def transactional_prefix(settings: Settings) -> str:
    """The prefix of every partition's transactional id: the same for all instances of a group,
    so that whoever owns a partition owns its id."""
    return settings.transactional_id or f"replyd-{settings.group_id}"


def transactional_id(prefix: str, tp: TopicPartition) -> str:
    return f"{prefix}-{tp.topic}-{tp.partition}"


async def rewind(
    consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition], stopping: asyncio.Event
) -> None:
    """Seek each partition to its committed offset as it is once its producer has started (the
    beginning when there is none). aiokafka fetched the offsets before that, while a commit of
    the fenced owner could still have been completing; starting the producer settles it.
    Retries while the broker is away, until ``stopping`` is set."""
    backoff = Backoff(0.5)
    pending = sorted(partitions)
    while pending and not stopping.is_set():
        tp = pending[0]
        try:
            offset = await consumer.committed(tp)
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
        except IllegalStateError:
            pass  # no longer assigned (another rebalance): nothing to rewind
        except KafkaError as exc:
            log.warning("committed offset unavailable; retrying",
                        extra={"partition": tp.partition, "error": repr(exc)})
            await backoff.wait(stopping)
            continue
        pending.pop(0)


class PartitionProducers:
    """The transactional producers of the partitions this instance owns, one each."""

    def __init__(
        self, settings: Settings, make_producer: Callable[[str], AIOKafkaProducer]
    ) -> None:
        """``make_producer(transactional_id)``: a new, unstarted transactional producer."""
        self._settings = settings
        self._make = make_producer
        self.prefix = transactional_prefix(settings)
        self._producers: dict[TopicPartition, AIOKafkaProducer] = {}
        self._locks: dict[TopicPartition, asyncio.Lock] = {}
        self._running: dict[TopicPartition, asyncio.Task[bool]] = {}

    def producer(self, tp: TopicPartition) -> AIOKafkaProducer | None:
        """The partition's producer, or None when the partition is not (or no longer) ours."""
        return self._producers.get(tp)

    def lock(self, tp: TopicPartition) -> asyncio.Lock:
        """Held for the whole of a partition's transaction, and by its revocation."""
        return self._locks.setdefault(tp, asyncio.Lock())

    async def assign(self, assigned: Iterable[TopicPartition], stopping: asyncio.Event) -> None:
        """Start a producer for each newly assigned partition. Starting one fences the last
        owner's (see the module docstring), so nothing of the partition is published before
        it returns. Retries while the broker is unreachable, until ``stopping`` is set."""
        new = [tp for tp in sorted(assigned) if tp not in self._producers]
        await asyncio.gather(*(self._start(tp, stopping) for tp in new))

    async def _start(self, tp: TopicPartition, stopping: asyncio.Event) -> None:
        backoff = Backoff(0.5)
        while not stopping.is_set():
            producer = self._make(transactional_id(self.prefix, tp))
            try:
                await producer.start()
            except KafkaError as exc:
                with contextlib.suppress(KafkaError):
                    await producer.stop()
                if not isinstance(exc, KafkaConnectionError) and not exc.retriable:
                    raise
                log.warning("transactional producer did not start; retrying",
                            extra={"partition": tp.partition, "error": repr(exc)})
                await backoff.wait(stopping)
                continue
            self._producers[tp] = producer
            return

    async def run(self, tp: TopicPartition, work: Awaitable[bool]) -> bool:
        """Run one transaction of ``tp`` (``work``: True once committed) so that a revocation
        that runs out of patience can cancel it; a cancelled transaction returns False. A
        cancellation of the caller itself propagates."""
        task = asyncio.ensure_future(work)
        self._running[tp] = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            return False
        finally:
            if self._running.get(tp) is task:
                del self._running[tp]

    async def revoke(self, revoked: Iterable[TopicPartition]) -> None:
        """Let each revoked partition's transaction under way finish, for at most
        ``revoke_transaction_timeout_s`` in all, cancel what is left, stop the producers.
        The caller has already made sure no new transaction of these partitions starts."""
        revoked = [tp for tp in revoked if tp in self._producers]
        await asyncio.gather(*(self._revoke(tp) for tp in revoked))

    async def _revoke(self, tp: TopicPartition) -> None:
        bound = self._settings.revoke_transaction_timeout_s
        lock = self.lock(tp)
        try:
            await asyncio.wait_for(lock.acquire(), bound)
        except TimeoutError:
            log.warning("rebalance: giving up a transaction of a revoked partition",
                        extra={"partition": tp.partition, "waited_s": bound})
            if (task := self._running.get(tp)) is not None:
                task.cancel()
            try:  # the cancelled transaction lets go at once
                await asyncio.wait_for(lock.acquire(), bound)
            except TimeoutError:  # never seen; the producer goes all the same
                await self._stop(tp)
                return
        try:
            await self._stop(tp)
        finally:
            lock.release()

    async def fenced(self, tp: TopicPartition) -> None:
        """The partition's producer was fenced: another instance owns the partition now. The
        producer is dropped; the partition publishes nothing until it is assigned again."""
        await self._stop(tp)

    async def _stop(self, tp: TopicPartition) -> None:
        producer = self._producers.pop(tp, None)
        if producer is None:
            return
        # A fenced or half-closed producer may not stop cleanly; bounded either way.
        with contextlib.suppress(KafkaError, TimeoutError, AssertionError):
            await asyncio.wait_for(producer.stop(), self._settings.revoke_transaction_timeout_s)

    async def stop(self) -> None:
        """Stop every producer (at shutdown)."""
        await asyncio.gather(*(self._stop(tp) for tp in list(self._producers)))
