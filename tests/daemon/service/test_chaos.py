"""Faults against real broker processes on loopback: kill -9, SIGTERM, bad bytes, a missing broker,
a group of two, a slow engine, and exactly-once under kill -9, a SIGSTOP past the session timeout
(zombie fencing) and a broker restart. Each test is bounded in time and prints its counts (lost,
duplicates, dead letters); run with -s to see them."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from daemon.contracts import DeadLetter, Draft
from daemon.service.daemon import Daemon
from daemon.service.metrics import Metrics
from daemon.service.publisher import Batch, Publisher
from daemon.settings import Settings
from daemon.tools.broker import EmbeddedBroker, free_port
from handlers.pipeline import PipelineConfig
from models.engines.echo import EchoEngine
from tests.conftest import REPO
from tests.daemon.kafka_helpers import email_bytes, send


def spawn(settings: Settings, log: Path, **extra: object) -> subprocess.Popen[bytes]:
    """`replyd run` as a real process, configured through REPLYD_* variables."""
    values = {**settings.model_dump(exclude_defaults=True), **extra}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for key, value in values.items():
        env[f"REPLYD_{key.upper()}"] = json.dumps(value) if isinstance(value, tuple) else str(value)
    with log.open("ab") as handle:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "run"], env=env, stdout=handle, stderr=handle
        )


async def outcomes(
    settings: Settings, read_committed: bool = False, settle_s: float = 0.5
) -> tuple[Counter[str], Counter[int]]:
    """Drafts per in_reply_to and dead letters per source offset, everything on the topics."""
    consumer = AIOKafkaConsumer(
        settings.drafts_topic,
        settings.deadletter_topic,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed" if read_committed else "read_uncommitted",
    )
    await consumer.start()
    drafts: Counter[str] = Counter()
    dead: Counter[int] = Counter()
    idle_since = time.monotonic()
    try:
        while time.monotonic() - idle_since < settle_s:
            batches = await consumer.getmany(timeout_ms=100)
            for tp, records in batches.items():
                idle_since = time.monotonic()
                for record in records:
                    if tp.topic == settings.drafts_topic:
                        drafts[Draft.model_validate_json(record.value).in_reply_to] += 1
                    else:
                        dead[DeadLetter.model_validate_json(record.value).source.offset] += 1
    finally:
        await consumer.stop()
    return drafts, dead


async def wait_for_all(settings: Settings, ids: set[str], dead_offsets: set[int],
                       timeout_s: float, read_committed: bool = False
                       ) -> tuple[Counter[str], Counter[int]]:
    deadline = time.monotonic() + timeout_s
    while True:
        drafts, dead = await outcomes(settings, read_committed)
        if ids <= set(drafts) and dead_offsets <= set(dead):
            return drafts, dead
        if time.monotonic() > deadline:
            return drafts, dead
        await asyncio.sleep(0.5)


def report(name: str, ids: set[str], drafts: Counter[str], dead: Counter[int], expected_dead: int) -> dict[str, int]:
    counts = {
        "emails": len(ids) + expected_dead,
        "lost": len(ids - set(drafts)),
        "duplicates": sum(c - 1 for c in drafts.values()) + sum(c - 1 for c in dead.values()),
        "dead_letters": len(dead),
    }
    print(f"\nchaos[{name}]: {json.dumps(counts)}")
    return counts


def chaos_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"max_batch_size": 16, "echo_delay_ms": 100.0, "shutdown_timeout_s": 20.0}
    )


async def test_kill_9_repeatedly_loses_nothing(settings: Settings, tmp_path: Path) -> None:
    settings = chaos_settings(settings)
    n = 600
    ids = {f"<test-{i}@example.com>" for i in range(n)}
    await send(settings, [email_bytes(i) for i in range(n)], partitions=2)
    rng = random.Random(3)
    kills = 0
    for _ in range(4):
        process = spawn(settings, tmp_path / "daemon.log")
        before = sum((await outcomes(settings, settle_s=0.2))[0].values())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # kill only once it is making progress
            if sum((await outcomes(settings, settle_s=0.2))[0].values()) > before:
                break
        await asyncio.sleep(rng.uniform(0.2, 0.8))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        kills += 1
    metrics_port = free_port()
    final = spawn(settings, tmp_path / "daemon.log", metrics_port=metrics_port)
    try:
        drafts, dead = await wait_for_all(settings, ids, set(), timeout_s=90)
        await wait_ready(metrics_port)
    finally:
        final.send_signal(signal.SIGTERM)
        assert final.wait(timeout=60) == 0
    counts = report("kill-9", ids, drafts, dead, 0)
    assert kills == 4
    assert counts["lost"] == 0, (tmp_path / "daemon.log").read_text()[-3000:]
    assert counts["dead_letters"] == 0


async def test_sigterm_mid_stream_then_restart_no_loss_no_duplicates(
    settings: Settings, tmp_path: Path
) -> None:
    settings = chaos_settings(settings)
    n = 300
    ids = {f"<test-{i}@example.com>" for i in range(n)}
    await send(settings, [email_bytes(i) for i in range(n)])
    process = spawn(settings, tmp_path / "daemon.log")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (await outcomes(settings, settle_s=0.2))[0]:
        pass
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    mid = sum((await outcomes(settings))[0].values())
    metrics_port = free_port()
    restarted = spawn(settings, tmp_path / "daemon.log", metrics_port=metrics_port)
    try:
        drafts, dead = await wait_for_all(settings, ids, set(), timeout_s=60)
        await wait_ready(metrics_port)
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=60) == 0
    counts = report("sigterm-restart", ids, drafts, dead, 0)
    assert 0 < mid < n, "the SIGTERM should land mid-stream"
    assert counts["lost"] == 0 and counts["duplicates"] == 0


BAD_CORPUS: list[bytes] = [
    b"",
    b" ",
    b"null",
    b"{}",
    b"[]",
    b"\x00\x01\x02",
    bytes(range(256)),
    b"\xef\xbb\xbf{}",
    b'{"message_id": "<x@y>"',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a": ' * 5000 + b"1" + b"}" * 5000,
    json.dumps({"message_id": "<x@y>", "from": "a@b", "to": "c@d", "body": "x",
                "received_at": "yesterday"}).encode(),
    json.dumps({"message_id": ["x"], "from": "a@b", "to": "c@d", "body": "x",
                "received_at": "2026-01-01T00:00:00Z"}).encode(),
    b"{\"message_id\": \"\\ud800\"}",
    b'{"message_id": "<x@y>", "from": "a@b", "to": "c@d", "body": "' + b"y" * 3_000_000 + b'"}',
]


async def test_a_corpus_of_bad_inputs_all_dead_lettered(settings: Settings, tmp_path: Path) -> None:
    good = [email_bytes(i) for i in range(20)]
    values = [v for pair in zip(good, BAD_CORPUS, strict=False) for v in pair] + good[len(BAD_CORPUS):]
    await send(settings, values)
    ids = {f"<test-{i}@example.com>" for i in range(20)}
    bad_offsets = {i for i, v in enumerate(values) if v in BAD_CORPUS}
    process = spawn(settings, tmp_path / "daemon.log")
    try:
        drafts, dead = await wait_for_all(settings, ids, bad_offsets, timeout_s=60)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    counts = report("bad-corpus", ids, drafts, dead, len(BAD_CORPUS))
    assert counts["lost"] == 0 and set(dead) == bad_offsets
    reasons = Counter(letter.reason for letter in await _dead_letters(settings))
    print(f"chaos[bad-corpus] reasons: {dict(reasons)}")
    assert reasons["too_large"] == 1 and set(reasons) <= {"invalid_json", "schema", "too_large"}


async def _dead_letters(settings: Settings) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(
        settings.deadletter_topic, bootstrap_servers=settings.bootstrap_servers, group_id=None,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    try:
        records = await consumer.getmany(timeout_ms=2000)
        return [DeadLetter.model_validate_json(r.value) for rs in records.values() for r in rs]
    finally:
        await consumer.stop()


async def test_broker_missing_at_start_means_not_ready_then_recovers(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    metrics_port = free_port()
    late = settings.model_copy(update={"bootstrap_servers": f"127.0.0.1:{port}"})
    process = spawn(late, tmp_path / "daemon.log", metrics_port=metrics_port)
    try:
        status = None
        for _ in range(100):
            status = await asyncio.to_thread(_status, metrics_port, "/readyz")
            if status is not None:
                break
            await asyncio.sleep(0.1)
        assert status == 503  # up, but not ready: no broker
        await asyncio.sleep(1.5)
        assert process.poll() is None, "the daemon must keep retrying, not exit"
        with EmbeddedBroker(port=port):
            await send(late, [email_bytes(i) for i in range(5)])
            ids = {f"<test-{i}@example.com>" for i in range(5)}
            drafts, dead = await wait_for_all(late, ids, set(), timeout_s=60)
            assert await asyncio.to_thread(_status, metrics_port, "/readyz") == 200
            report("broker-late", ids, drafts, dead, 0)
            assert ids <= set(drafts)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()


def _status(port: int, path: str) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


async def test_two_instances_share_the_partitions(settings: Settings) -> None:
    settings = settings.model_copy(update={"max_batch_size": 8})
    n = 300
    ids = {f"<test-{i}@example.com>" for i in range(n)}
    await send(settings, [email_bytes(i) for i in range(n)], partitions=4)
    # Both start together, so both are in the first group generation whatever the machine's
    # load; 50 ms per engine call leaves work for both (~4 s alone).
    first = Daemon(settings, EchoEngine(delay_ms=50), PipelineConfig())
    second = Daemon(settings, EchoEngine(delay_ms=50), PipelineConfig())
    tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    try:
        drafts, dead = await wait_for_all(settings, ids, set(), timeout_s=60)
    finally:
        first.request_stop()
        second.request_stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    counts = report("two-instances", ids, drafts, dead, 0)
    assert counts["lost"] == 0
    consumed = [d.metrics.emails_consumed._value.get() for d in (first, second)]
    print(f"chaos[two-instances] consumed per instance: {consumed}")
    assert all(c > 0 for c in consumed), "both instances must get partitions"


async def test_slow_engine_pauses_partitions_and_keeps_group_membership(settings: Settings) -> None:
    # Each engine call takes longer than max_poll_interval_ms: blocking the poll would get this
    # member evicted (and its batches replayed as duplicates). Pausing keeps it polling.
    slow = settings.model_copy(
        update={"max_batch_size": 2, "max_inflight_emails": 4, "max_poll_interval_ms": 1500,
                "max_wait_ms": 0}
    )
    n = 10
    ids = {f"<test-{i}@example.com>" for i in range(n)}
    await send(slow, [email_bytes(i) for i in range(n)])
    daemon = Daemon(slow, EchoEngine(delay_ms=700), PipelineConfig(tasks=("sentiment", "reply")))
    task = asyncio.create_task(daemon.run())
    paused_seen = False
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            paused_seen = paused_seen or daemon._paused
            drafts, dead = await outcomes(slow, settle_s=0.1)
            if ids <= set(drafts):
                break
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 60)
    drafts, dead = await outcomes(slow)
    counts = report("slow-engine", ids, drafts, dead, 0)
    assert paused_seen
    assert counts["lost"] == 0 and counts["duplicates"] == 0


async def test_exactly_once_under_kill_9(tmp_path: Path) -> None:
    # noida-db is the test broker whose transactions work. It never evicts a kill -9'd group
    # member (its rejoin loops), so each kill is followed by a broker restart (data is on disk):
    # that clears the group membership and exercises a broker restart at the same time.
    broker = EmbeddedBroker(port=0, kind="noida", data_dir=tmp_path / "noida")
    with broker:
        run = os.urandom(4).hex()
        settings = Settings(
            bootstrap_servers=broker.bootstrap, engine="echo", metrics_port=0,
            processing_guarantee="exactly_once", input_topic=f"in-{run}",
            drafts_topic=f"drafts-{run}", deadletter_topic=f"dead-{run}", group_id=f"g-{run}",
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000, max_batch_size=16, echo_delay_ms=100.0,
        )
        n = 300
        ids = {f"<test-{i}@example.com>" for i in range(n)}
        await send(settings, [email_bytes(i) for i in range(n)] + [b"junk"])
        kills = 0
        for _ in range(3):
            process = spawn(settings, tmp_path / "daemon.log")
            before = sum((await outcomes(settings, True, 0.2))[0].values())
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if sum((await outcomes(settings, True, 0.2))[0].values()) > before:
                    break
            await asyncio.sleep(0.3)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            kills += 1
            broker.stop_sync()
            broker.start_sync()
        mid = sum((await outcomes(settings, True))[0].values())
        metrics_port = free_port()
        final = spawn(settings, tmp_path / "daemon.log", metrics_port=metrics_port)
        try:
            drafts, dead = await wait_for_all(settings, ids, {n}, timeout_s=120, read_committed=True)
            await wait_ready(metrics_port)
        finally:
            final.send_signal(signal.SIGTERM)
            assert final.wait(timeout=60) == 0
        counts = report("exactly-once-kill-9", ids, drafts, dead, 1)
        assert kills == 3 and 0 < mid < n, "the kills should land mid-stream"
        assert counts["lost"] == 0, (tmp_path / "daemon.log").read_text()[-3000:]
        assert counts["duplicates"] == 0


async def take_over(settings: Settings, partitions: int, per_partition: int) -> int:
    """The new owner of every input partition, built from replyd's own parts: it starts each
    partition's producer (fencing the last owner), seeks to the committed offsets, and commits
    drafts and offsets for up to ``per_partition`` records of each. Returns how many."""
    tps = [TopicPartition(settings.input_topic, p) for p in range(partitions)]
    owner = Daemon(settings, EchoEngine(delay_ms=0), PipelineConfig())  # for its outputs
    publisher = Publisher(settings, Metrics())
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=settings.group_id,
        enable_auto_commit=False, auto_offset_reset="earliest", isolation_level="read_committed")
    await consumer.start()
    consumer.assign(tps)
    published = 0
    try:
        async with owner.engine:
            await publisher.assign(tps, consumer, asyncio.Event())
            for tp in tps:
                records = (await consumer.getmany(tp, timeout_ms=2000,
                                                  max_records=per_partition)).get(tp, [])
                if records:
                    batch = Batch(records, {tp: 0}, await owner._outputs(records))
                    done = await publisher.publish_transaction(batch, lambda b: b, lambda b: None)
                    published += len(done.records)
    finally:
        await publisher.stop()
        await consumer.stop()
    return published


async def test_exactly_once_a_stalled_instance_that_resumes_commits_nothing_stale(
    tmp_path: Path,
) -> None:
    # An instance is SIGSTOPped past its session timeout with batches in flight; a new owner
    # takes its partitions over and commits some of their records; the instance is SIGCONTed.
    # noida-db cannot move a stalled member's partitions to another member (its rebalance waits
    # for the stalled member, then loops), so the new owner is this test, built from replyd's
    # own Publisher: it starts each partition's producer exactly as an instance does on
    # assignment. What resumes then must commit nothing it had in flight; it rejoins, fences
    # the test's producers in turn and finishes from the committed offsets.
    broker = EmbeddedBroker(port=0, kind="noida", data_dir=tmp_path / "noida")
    with broker:
        run = os.urandom(4).hex()
        settings = Settings(
            bootstrap_servers=broker.bootstrap, engine="echo", metrics_port=0,
            processing_guarantee="exactly_once", input_topic=f"in-{run}",
            drafts_topic=f"drafts-{run}", deadletter_topic=f"dead-{run}", group_id=f"g-{run}",
            session_timeout_ms=6000, heartbeat_interval_ms=1000, max_batch_size=8,
            echo_delay_ms=300.0, max_inflight_emails=32, rebalance_drain_timeout_s=1.0,
            revoke_transaction_timeout_s=1.0,
        )
        n = 400
        ids = {f"<test-{i}@example.com>" for i in range(n)}
        await send(settings, [email_bytes(i) for i in range(n)], partitions=4)
        log = tmp_path / "daemon.log"
        process = spawn(settings, log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (await outcomes(settings, True, 0.2))[0]:
            pass
        await asyncio.sleep(1.0)
        process.send_signal(signal.SIGSTOP)
        try:
            stopped_at = sum((await outcomes(settings, True))[0].values())
            await asyncio.sleep(settings.session_timeout_ms / 1000 + 1)
            taken = await take_over(settings, 4, 24)
        finally:
            process.send_signal(signal.SIGCONT)
        try:
            drafts, dead = await wait_for_all(settings, ids, set(), timeout_s=60,
                                              read_committed=True)
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
        counts = report("exactly-once-sigstop", ids, drafts, dead, 0)
        text = log.read_text()
        fenced = text.count("taken over by another instance")
        print(f"chaos[exactly-once-sigstop] drafts when stopped {stopped_at}; the new owner "
              f"committed {taken}; fenced transactions of the resumed instance {fenced}; "
              f"exit code {code}")
        assert 0 < stopped_at < n and taken > 0
        assert fenced > 0, "the resumed instance should have had work in flight"
        assert counts["lost"] == 0, text[-3000:]
        assert counts["duplicates"] == 0, text[-3000:]


@pytest.mark.parametrize("guarantee", ["exactly_once", "at_least_once"])
async def test_a_broker_restart_under_load_loses_nothing(tmp_path: Path, guarantee: str) -> None:
    # The broker is restarted while an instance publishes. Exactly-once: its transactions fail
    # and are retried on the partitions' producers until the broker is back (it keeps its data
    # on disk); 0 lost, 0 duplicates for a read_committed reader. At-least-once: sends and
    # commits fail and are retried; the daemon waits and resumes, no crash, 0 lost (a replayed
    # batch may repeat drafts, which carry the same idempotency key).
    exactly_once = guarantee == "exactly_once"
    broker = EmbeddedBroker(port=0, kind="noida", data_dir=tmp_path / "noida")
    with broker:
        run = os.urandom(4).hex()
        settings = Settings(
            bootstrap_servers=broker.bootstrap, engine="echo", metrics_port=0,
            processing_guarantee=guarantee, input_topic=f"in-{run}",
            drafts_topic=f"drafts-{run}", deadletter_topic=f"dead-{run}", group_id=f"g-{run}",
            session_timeout_ms=6000, heartbeat_interval_ms=1000, max_batch_size=8,
            echo_delay_ms=200.0,
        )
        n = 300
        ids = {f"<test-{i}@example.com>" for i in range(n)}
        await send(settings, [email_bytes(i) for i in range(n)], partitions=2)
        log = tmp_path / "daemon.log"
        process = spawn(settings, log)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (await outcomes(settings, True, 0.2))[0]:
                pass
            await asyncio.sleep(0.5)
            broker.stop_sync()
            await asyncio.sleep(2.0)
            broker.start_sync()
            drafts, dead = await wait_for_all(settings, ids, set(), timeout_s=75,
                                              read_committed=exactly_once)
            assert process.poll() is None, "the daemon exited while the broker was away"
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
        name = "exactly-once-broker-restart" if exactly_once else "at-least-once-broker-restart"
        counts = report(name, ids, drafts, dead, 0)
        retries = log.read_text().count("retrying")
        print(f"chaos[{name}] retries logged {retries}; exit {code}")
        assert counts["lost"] == 0, log.read_text()[-3000:]
        assert code == 0, log.read_text()[-3000:]
        if exactly_once:
            assert counts["duplicates"] == 0, log.read_text()[-3000:]


async def wait_ready(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(_status, port, "/readyz") == 200:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"/readyz on {port} never answered 200")
