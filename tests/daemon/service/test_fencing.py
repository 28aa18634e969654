"""Zombie fencing in exactly-once mode, against the transactional test broker (noida-db): an
instance whose partition was taken over commits neither outputs nor offsets for it, and a
revocation never waits on a transaction longer than its bound."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import ProducerFenced

from daemon.service.metrics import Metrics
from daemon.service.publisher import Batch, Output, Publisher
from daemon.service.transactions import transactional_id, transactional_prefix
from daemon.settings import Settings
from daemon.tools.broker import EmbeddedBroker
from tests.daemon.kafka_helpers import send


@pytest.fixture
async def noida(tmp_path: Path) -> AsyncIterator[EmbeddedBroker]:
    async with EmbeddedBroker(port=0, kind="noida", data_dir=tmp_path / "noida") as broker:
        yield broker


@asynccontextmanager
async def assigned_consumer(settings: Settings, tp: TopicPartition
                            ) -> AsyncIterator[AIOKafkaConsumer]:
    """A group-less consumer of ``tp`` with the group's offsets, as an instance's would be."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                group_id=settings.group_id, enable_auto_commit=False)
    await consumer.start()
    consumer.assign([tp])
    try:
        yield consumer
    finally:
        await consumer.stop()


def eos_settings(broker: EmbeddedBroker, **extra: object) -> Settings:
    run = os.urandom(4).hex()
    values: dict[str, object] = dict(
        bootstrap_servers=broker.bootstrap, engine="echo", metrics_port=0,
        processing_guarantee="exactly_once", input_topic=f"in-{run}",
        drafts_topic=f"drafts-{run}", deadletter_topic=f"dead-{run}", group_id=f"g-{run}",
        revoke_transaction_timeout_s=1.0,
    )
    return Settings(**{**values, **extra})  # type: ignore[arg-type]


def batch_of(settings: Settings, tp: TopicPartition, offsets: range, tag: str,
             epoch: int = 0) -> Batch:
    """Records of ``tp`` at ``offsets`` and one draft-topic output each, tagged ``tag``."""
    records = [
        ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, None, b"x", None, 0, 1, ())
        for offset in offsets
    ]
    outputs = [Output(settings.drafts_topic, f"{tag}-{r.offset}".encode(),
                      f"{tag}-{r.offset}".encode(), [], "draft") for r in records]
    return Batch(records, {tp: epoch}, outputs)


async def committed_view(settings: Settings, tp: TopicPartition) -> tuple[list[bytes], int | None]:
    """The drafts a read_committed reader sees, and the group's committed offset of ``tp``."""
    reader = AIOKafkaConsumer(
        settings.drafts_topic, bootstrap_servers=settings.bootstrap_servers, group_id=None,
        auto_offset_reset="earliest", isolation_level="read_committed")
    await reader.start()
    values: list[bytes] = []
    try:
        for _ in range(6):
            for records in (await reader.getmany(timeout_ms=250)).values():
                values.extend(r.value for r in records if r.value is not None)
    finally:
        await reader.stop()
    group = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                             group_id=settings.group_id, enable_auto_commit=False)
    await group.start()
    try:
        offset = await group.committed(tp)
    finally:
        await group.stop()
    return values, offset


def test_transactional_ids_are_per_partition_and_the_same_on_every_instance() -> None:
    settings = Settings(group_id="support", processing_guarantee="exactly_once")
    tp = TopicPartition("emails.incoming", 3)
    assert transactional_id(transactional_prefix(settings), tp) == (
        "replyd-support-emails.incoming-3")
    prefixed = settings.model_copy(update={"transactional_id": "eu"})
    assert transactional_id(transactional_prefix(prefixed), tp) == "eu-emails.incoming-3"


async def test_a_new_owner_fences_the_old_one_which_commits_nothing(
    noida: EmbeddedBroker,
) -> None:
    settings = eos_settings(noida)
    await send(settings, [b"x"] * 10)
    tp = TopicPartition(settings.input_topic, 0)
    never = asyncio.Event()
    zombie, owner = Publisher(settings, Metrics()), Publisher(settings, Metrics())
    abandoned: list[int] = []
    try:
        async with assigned_consumer(settings, tp) as consumer:
            await zombie.assign({tp}, consumer, never)
        first = await zombie.publish_transaction(
            batch_of(settings, tp, range(0, 3), "zombie"), lambda b: b, lambda b: None)
        assert len(first.records) == 3  # the partition is still the zombie's: it commits
        # The zombie stalls; the group gives the partition to another instance, whose producer
        # for it starts (the same transactional id): the zombie's is fenced from now on.
        async with assigned_consumer(settings, tp) as consumer:
            await owner.assign({tp}, consumer, never)
            assert await consumer.position(tp) == 3  # where the zombie's commit left it
        late = await zombie.publish_transaction(
            batch_of(settings, tp, range(3, 6), "zombie"), lambda b: b,
            lambda b: abandoned.append(len(b.records)))
        taken_over = await owner.publish_transaction(
            batch_of(settings, tp, range(3, 6), "owner"), lambda b: b, lambda b: None)
    finally:
        await zombie.stop()
        await owner.stop()
    values, offset = await committed_view(settings, tp)
    print(f"\nfencing: read_committed sees {sorted(values)}, committed offset {offset}")
    assert late.records == [] and abandoned == [3], "the fenced zombie must commit nothing"
    assert len(taken_over.records) == 3
    assert sorted(values) == [b"owner-3", b"owner-4", b"owner-5",
                              b"zombie-0", b"zombie-1", b"zombie-2"]
    assert offset == 6


async def test_the_broker_fences_a_stale_producer_of_the_same_id(noida: EmbeddedBroker) -> None:
    """What the scheme rests on: starting a producer with a transactional id aborts the open
    transaction of the previous one and refuses its every later call."""
    settings = eos_settings(noida)
    await send(settings, [b"x"])
    old = AIOKafkaProducer(bootstrap_servers=noida.bootstrap, transactional_id="probe")
    new = AIOKafkaProducer(bootstrap_servers=noida.bootstrap, transactional_id="probe")
    await old.start()
    try:
        await old.begin_transaction()
        await (await old.send(settings.drafts_topic, b"open-when-fenced"))
        await new.start()
        with pytest.raises(ProducerFenced):
            await (await old.send(settings.drafts_topic, b"after-fence"))
    finally:
        for producer in (old, new):
            try:
                await producer.stop()
            except Exception:  # a fenced producer may not stop cleanly
                pass
    values, _ = await committed_view(settings, TopicPartition(settings.input_topic, 0))
    assert values == []


async def test_revocation_gives_up_a_stuck_transaction_within_its_bound(
    noida: EmbeddedBroker,
) -> None:
    settings = eos_settings(noida, revoke_transaction_timeout_s=1.0)
    await send(settings, [b"x"] * 3)
    tp = TopicPartition(settings.input_topic, 0)
    publisher = Publisher(settings, Metrics())
    abandoned: list[int] = []
    async with assigned_consumer(settings, tp) as consumer:
        await publisher.assign({tp}, consumer, asyncio.Event())
    try:
        await noida.stop()  # the transaction cannot go through: it retries without end
        publishing = asyncio.create_task(publisher.publish_transaction(
            batch_of(settings, tp, range(0, 3), "stuck"), lambda b: b,
            lambda b: abandoned.append(len(b.records))))
        await asyncio.sleep(1.0)
        assert not publishing.done()
        started = time.monotonic()
        await asyncio.wait_for(publisher.revoke({tp}), 10)
        waited = time.monotonic() - started
        published = await asyncio.wait_for(publishing, 5)
    finally:
        await asyncio.wait_for(publisher.stop(), 10)
    print(f"\nrevoke: gave up the stuck transaction after {waited:.2f} s (bound 1.0 s)")
    assert published.records == [] and abandoned == [3]
    assert 0.9 <= waited < 3.5
    assert publisher.transactions is not None and publisher.transactions.producer(tp) is None
