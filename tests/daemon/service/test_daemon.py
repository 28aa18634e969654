"""The daemon loop against the real broker process, with the echo engine (transport logic)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import urllib.request
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from daemon.contracts import DeadLetter, Draft
from daemon.service.daemon import Daemon
from daemon.settings import Settings
from handlers.pipeline import PipelineConfig
from models.engines.base import Engine, GenerateRequest, GenerateResult
from models.engines.echo import EchoEngine
from models.errors import EngineDeadError, EngineError
from tests.daemon.kafka_helpers import email_bytes, read, send
from tests.handlers.fakes import ScriptedEngine, result


async def run_until(daemon: Daemon, settings: Settings, drafts: int, dead: int) -> tuple[
    list[Draft], list[DeadLetter]
]:
    task = asyncio.create_task(daemon.run())
    try:
        draft_records = await read(settings, settings.drafts_topic, drafts) if drafts else []
        dead_records = await read(settings, settings.deadletter_topic, dead) if dead else []
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)
    return (
        [Draft.model_validate_json(r.value) for r in draft_records],
        [DeadLetter.model_validate_json(r.value) for r in dead_records],
    )


def daemon_for(settings: Settings, engine: Engine | None = None, **config: object) -> Daemon:
    return Daemon(settings, engine or EchoEngine(), PipelineConfig(**config))  # type: ignore[arg-type]


async def test_emails_become_drafts_and_bad_input_becomes_dead_letters(settings: Settings) -> None:
    settings = settings.model_copy(update={"max_body_bytes": 2000, "max_batch_size": 4})
    oversized = email_bytes(99, body="x" * 5000)
    bad = [b"{not json", b"", b'{"message_id": "<only@x>"}', oversized, b"\xff\xfe"]
    good = [email_bytes(i) for i in range(10)]
    await send(settings, good[:5] + bad + good[5:])

    drafts, dead = await run_until(daemon_for(settings), settings, drafts=10, dead=5)

    expected = sorted(f"<test-{i}@example.com>" for i in range(10))
    assert sorted(d.in_reply_to for d in drafts) == expected
    assert all(d.sentiment in ("positive", "negative", "neutral") for d in drafts)
    assert all(d.to.startswith("customer") and d.subject.startswith("Re: ") for d in drafts)
    reasons = {letter.source.offset: letter.reason for letter in dead}
    assert reasons == {5: "invalid_json", 6: "invalid_json", 7: "schema", 8: "too_large",
                       9: "invalid_json"}
    by_offset = {letter.source.offset: letter for letter in dead}
    assert base64.b64decode(by_offset[5].original_b64) == b"{not json"
    assert by_offset[8].original_size == len(oversized)
    assert all(letter.source.topic == settings.input_topic for letter in dead)


async def test_drafts_are_keyed_and_carry_the_idempotency_header(settings: Settings) -> None:
    await send(settings, [email_bytes(1)])
    await run_until(daemon_for(settings), settings, drafts=1, dead=0)
    (record,) = await read(settings, settings.drafts_topic, 1)
    assert record.key == b"<test-1@example.com>"
    assert dict(record.headers)["replyd-idempotency-key"] == b"<test-1@example.com>"


async def test_outputs_carry_trace_schema_and_dead_letter_context_headers(
    settings: Settings,
) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    sent = [("traceparent", f"00-{trace}-00f067aa0ba902b7-01".encode()), ("tenant", b"acme")]
    await send(settings, [email_bytes(1), b"{not json"], headers=sent)
    await run_until(daemon_for(settings), settings, drafts=1, dead=1)
    (draft,) = await read(settings, settings.drafts_topic, 1)
    (letter,) = await read(settings, settings.deadletter_topic, 1)
    got = dict(draft.headers)
    assert got["content-type"] == b"application/json"
    assert got["replyd-schema-version"] == b"4"
    version, trace_id, span, flags = got["traceparent"].decode().split("-")
    assert (version, trace_id, flags) == ("00", trace, "01")
    assert span == got["replyd-trace-id"].decode() != "00f067aa0ba902b7"
    dead = dict(letter.headers)
    assert dead["replyd.errors.topic"] == settings.input_topic.encode()
    assert (dead["replyd.errors.partition"], dead["replyd.errors.offset"]) == (b"0", b"1")
    assert dead["replyd.errors.reason"] == b"invalid_json"
    assert dead["replyd.errors.exception.class"] == b"daemon.service.codec.Rejected"
    assert dead["replyd.errors.exception.message"].startswith(b"not UTF-8 JSON")
    assert dead["replyd.original.tenant"] == b"acme"
    assert dead["replyd.original.traceparent"] == sent[0][1]
    assert dead["traceparent"].decode().split("-")[1] == trace


async def test_committed_offsets_are_not_reprocessed_after_restart(settings: Settings) -> None:
    await send(settings, [email_bytes(i) for i in range(3)])
    await run_until(daemon_for(settings), settings, drafts=3, dead=0)
    await send(settings, [email_bytes(i) for i in range(3, 5)])
    await run_until(daemon_for(settings), settings, drafts=5, dead=0)
    records = await read(settings, settings.drafts_topic, 5)
    keys = [r.key for r in records]
    assert len(keys) == 5 and len(set(keys)) == 5, keys


def _answers(request: GenerateRequest) -> GenerateResult:
    if request.constraint is None or request.constraint.choices:
        return result("neutral")
    return result('{"name":[],"product":[],"location":[]}')


class _Down(ScriptedEngine):
    """Answers 503-like retriable errors while ``down``; reports itself healthy throughout
    (``unhealthy`` makes it report the outage too)."""

    def __init__(self, unhealthy: bool = False) -> None:
        super().__init__(_answers)
        self.down = True
        self._unhealthy = unhealthy

    def healthy(self) -> bool:
        return not (self._unhealthy and self.down)

    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        if self.down:
            self.calls.append(list(requests))
            raise EngineError("503 no healthy upstream")
        return await super().generate(requests)


async def committed(settings: Settings) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                group_id=settings.group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(settings.input_topic, 0))
    finally:
        await consumer.stop()


@pytest.mark.parametrize("unhealthy", [False, True])
async def test_an_engine_failing_past_the_deadline_is_waited_for_not_dead_lettered(
    settings: Settings, unhealthy: bool
) -> None:
    engine = _Down(unhealthy)
    await send(settings, [email_bytes(1), email_bytes(2)])
    settings = settings.model_copy(
        update={"engine_retry_deadline_s": 0.2, "engine_retry_initial_backoff_s": 0.01})
    daemon = daemon_for(settings, engine, check_drafts=False)
    task = asyncio.create_task(daemon.run())
    try:
        for _ in range(200):  # well past the deadline, many failed attempts
            await asyncio.sleep(0.05)
            if len(engine.calls) >= 5 and daemon._outage.down:
                break
        assert len(engine.calls) >= 5
        assert daemon._ready_checks()["engine"] is False  # /readyz: engine down
        assert daemon.stats.published == 0
        assert await committed(settings) is None  # nothing committed while down
        assert await read(settings, settings.deadletter_topic, 0, timeout_s=0.5) == []
        engine.down = False  # the engine recovers
        drafts = await read(settings, settings.drafts_topic, 2)
        assert daemon._ready_checks()["engine"] is True
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)
    assert sorted(r.key for r in drafts) == [b"<test-1@example.com>", b"<test-2@example.com>"]
    assert await read(settings, settings.deadletter_topic, 0, timeout_s=0.5) == []
    assert await committed(settings) == 2  # lost 0, duplicates 0, dead letters 0


async def test_a_non_retriable_engine_error_dead_letters_the_batch(settings: Settings) -> None:
    from models.engines.openai_engine import EngineResponseError

    engine = ScriptedEngine(_answers, failures=[EngineResponseError("not a completion")])
    await send(settings, [email_bytes(1), email_bytes(2)])
    _, dead = await run_until(daemon_for(settings, engine), settings, drafts=0, dead=2)
    assert [letter.reason for letter in dead] == ["engine_error", "engine_error"]
    assert "not a completion" in dead[0].error and not dead[0].original_truncated


async def test_a_dead_engine_stops_the_daemon_without_committing(settings: Settings) -> None:
    await send(settings, [email_bytes(i) for i in range(3)])
    dead_engine = ScriptedEngine(lambda r: result("neutral"), failures=[EngineDeadError("gone")])
    with pytest.raises(EngineDeadError):
        await asyncio.wait_for(daemon_for(settings, dead_engine).run(), 30)
    # Nothing was committed: a healthy replacement drafts all three.
    drafts, _ = await run_until(daemon_for(settings), settings, drafts=3, dead=0)
    assert len({d.in_reply_to for d in drafts}) == 3


async def test_health_and_metrics_endpoints(settings: Settings) -> None:
    await send(settings, [email_bytes(i) for i in range(4)] + [b"junk"])
    daemon = daemon_for(settings)
    task = asyncio.create_task(daemon.run())
    try:
        await read(settings, settings.drafts_topic, 4)
        await read(settings, settings.deadletter_topic, 1)
        assert daemon.health is not None
        base = f"http://127.0.0.1:{daemon.health.port}"

        def get(path: str) -> tuple[int, str]:
            with urllib.request.urlopen(base + path, timeout=5) as response:
                return response.status, response.read().decode()

        status, body = await asyncio.to_thread(get, "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, body = await asyncio.to_thread(get, "/readyz")
        assert status == 200 and json.loads(body)["checks"] == {"broker": True, "engine": True}
        # Counters move after the commit that follows the acknowledgements.
        for _ in range(50):
            status, metrics = await asyncio.to_thread(get, "/metrics")
            if "replyd_drafts_published_total 4.0" in metrics:
                break
            await asyncio.sleep(0.1)
        assert "replyd_drafts_published_total 4.0" in metrics
        assert 'replyd_dead_letters_total{reason="invalid_json"} 1.0' in metrics
        assert "replyd_emails_consumed_total 5.0" in metrics
        assert 'replyd_build_info{base_model="echo",engine="echo"' in metrics
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)


class _Outage(ScriptedEngine):
    """Unreachable (unhealthy, failing) for its first calls, then back."""

    def __init__(self, failing_calls: int) -> None:
        super().__init__(lambda r: result("neutral") if r.constraint is None or
                         r.constraint.choices else result('{"name":[],"product":[],"location":[]}'),
                         failures=[EngineError("connection refused")] * failing_calls)

    def healthy(self) -> bool:
        return not self._failures


async def test_an_unreachable_engine_is_waited_for_not_dead_lettered(settings: Settings) -> None:
    await send(settings, [email_bytes(1), email_bytes(2)])
    engine = _Outage(failing_calls=6)
    settings = settings.model_copy(
        update={"engine_retry_deadline_s": 0.05, "engine_retry_initial_backoff_s": 0.01})
    daemon = daemon_for(settings, engine)
    drafts, dead = await run_until(daemon, settings, drafts=2, dead=0)
    assert len(drafts) == 2 and not dead
    records = await read(settings, settings.deadletter_topic, 0, timeout_s=1)
    assert records == []


def test_serving_gc_settings_freeze_the_heap_and_raise_the_young_threshold() -> None:
    import gc

    from daemon.service.gc_tuning import GC_GEN0_THRESHOLD, tune_gc

    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == (GC_GEN0_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


async def test_transient_engine_errors_are_retried_once_per_batch_then_drafted(
    settings: Settings,
) -> None:
    engine = ScriptedEngine(
        lambda r: result("neutral") if r.constraint is None or r.constraint.choices
        else result('{"name":[],"product":[],"location":[]}'),
        failures=[EngineError("busy"), EngineError("busy")],
    )
    await send(settings, [email_bytes(1)])
    settings = settings.model_copy(update={"engine_retry_initial_backoff_s": 0.01})
    daemon = daemon_for(settings, engine, check_drafts=False)
    drafts, _ = await run_until(daemon, settings, drafts=1, dead=0)
    assert len(drafts) == 1
    assert len(engine.calls) == 4  # two failed attempts, then the two stages


async def test_raw_mail_is_drafted_and_mail_that_wants_no_reply_is_skipped(
    settings: Settings,
) -> None:
    from email.message import EmailMessage

    from daemon.contracts import SkippedEmail

    def message(number: int, **headers: str) -> bytes:
        mail = EmailMessage()
        mail["From"] = f'"Dana Ross" <dana{number}@example.org>'
        mail["To"] = "support@shop.example"
        mail["Subject"] = "Kettle lid"
        mail["Message-ID"] = f"<raw-{number}@example.org>"
        for name, value in headers.items():
            mail[name] = value
        mail.set_content("Hello,\nthe lid of my kettle broke.\n\n> On Monday you wrote:\n> hi\n")
        return mail.as_bytes()

    await send(settings, [message(1), message(2, **{"Auto-Submitted": "auto-replied"}),
                          message(3, **{"X-Spam-Flag": "YES"}), b"Subject: no sender\n\nhi\n"],
               headers=[("content-type", b"message/rfc822")])
    daemon = daemon_for(settings)
    task = asyncio.create_task(daemon.run())
    try:
        records = await read(settings, settings.drafts_topic, 3)
        (dead,) = await read(settings, settings.deadletter_topic, 1)
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)
    by_outcome = {json.loads(r.value)["outcome"]: r for r in records}
    reasons = {(s.in_reply_to, s.reason) for s in (
        SkippedEmail.model_validate_json(r.value) for r in records
        if json.loads(r.value)["outcome"] == "skipped")}
    assert reasons == {("<raw-2@example.org>", "auto_reply"), ("<raw-3@example.org>", "spam")}
    draft = Draft.model_validate_json(by_outcome["drafted"].value)
    assert draft.in_reply_to == "<raw-1@example.org>" and draft.to == "dana1@example.org"
    assert draft.entities.name[0] == "Dana Ross"
    assert draft.language == "en"
    skipped = by_outcome["skipped"]
    assert dict(skipped.headers)["replyd-idempotency-key"] == json.loads(
        skipped.value)["in_reply_to"].encode()
    assert DeadLetter.model_validate_json(dead.value).reason == "invalid_mail"


class _FakeBatch:
    def __init__(self) -> None:
        self.records: list[bytes] = []

    def append(self, **record: object) -> object:
        self.records.append(record["value"])  # type: ignore[arg-type]
        return self

    def close(self) -> None: ...


class _FakeProducer:
    """Two partitions; each send_batch (or partitions_for) takes the next scripted error."""

    def __init__(self, errors: list[BaseException | None], metadata: list[BaseException]) -> None:
        self.errors = errors
        self.metadata = metadata
        self.sent: list[bytes] = []

    async def partitions_for(self, topic: str) -> set[int]:
        if self.metadata:
            raise self.metadata.pop(0)
        return {0, 1}

    def create_batch(self) -> _FakeBatch:
        return _FakeBatch()

    async def send_batch(self, batch: _FakeBatch, topic: str, *, partition: int) -> object:
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        error = self.errors.pop(0) if self.errors else None
        if error is None:
            self.sent.extend(batch.records)
            future.set_result(None)
        else:
            future.set_exception(error)
        return future


def _publisher(settings: Settings, producer: _FakeProducer) -> object:
    from daemon.service.metrics import Metrics
    from daemon.service.publisher import Publisher

    with pytest.MonkeyPatch.context() as patch:  # no real producer, so none left unclosed
        patch.setattr(Publisher, "_make_producer", lambda self: producer)
        return Publisher(settings, Metrics())


async def test_retriable_send_errors_resend_only_what_was_not_acknowledged(
    settings: Settings,
) -> None:
    from aiokafka.errors import KafkaTimeoutError, NotLeaderForPartitionError

    from daemon.service.publisher import Batch, Output

    outputs = [Output("t", f"k{i}".encode(), f"v{i}".encode(), [], "draft") for i in range(8)]
    producer = _FakeProducer([None, NotLeaderForPartitionError()], [KafkaTimeoutError()])
    publisher = _publisher(settings, producer)
    batch = Batch([], {}, outputs)
    await publisher.send(batch)  # type: ignore[attr-defined]  # metadata timed out: nothing sent
    assert producer.sent == [] and not any(batch.acked)
    await publisher.until_acknowledged(batch)  # type: ignore[attr-defined]
    assert all(batch.acked)
    # One partition's batch failed once and went again; the acknowledged one did not.
    assert sorted(producer.sent) == sorted(o.value for o in outputs)  # duplicates 0, lost 0


async def test_a_refused_output_stops_with_exit_code_4(settings: Settings) -> None:
    from aiokafka.errors import MessageSizeTooLargeError

    from daemon.service.publisher import Batch, BrokerRefusedError, Output

    outputs = [Output("t", b"k", b"v", [], "draft")]
    publisher = _publisher(settings, _FakeProducer([MessageSizeTooLargeError()], []))
    batch = Batch([], {}, outputs)
    await publisher.send(batch)  # type: ignore[attr-defined]
    with pytest.raises(BrokerRefusedError) as caught:
        await publisher.until_acknowledged(batch)  # type: ignore[attr-defined]
    assert caught.value.exit_code == 4
    too_big = [Output("t", b"k", b"v" * settings.max_record_bytes, [], "draft")]
    with pytest.raises(BrokerRefusedError, match="exceeds max_record_bytes"):
        await publisher.send(Batch([], {}, too_big))  # type: ignore[attr-defined]


def test_cli_maps_a_broker_refusal_to_exit_code_4(monkeypatch: pytest.MonkeyPatch) -> None:
    from daemon import cli
    from daemon.service.publisher import BrokerRefusedError

    def refuse(args: object) -> int:
        raise BrokerRefusedError("the broker refused our output")

    monkeypatch.setattr(cli, "cmd_run", refuse)
    assert cli.main(["run"]) == cli.EXIT_BROKER_REFUSED == 4


async def test_an_email_the_engine_fails_every_time_is_dead_lettered_not_held(
    settings: Settings,
) -> None:
    """Issue 18: one email whose requests a healthy server answers with 500 every time costs
    that email (an ``engine_request`` dead letter), not its partition."""
    from tests.daemon.service.test_isolate import MARKER, Poisoned

    bodies = ["My AeroBlend 500 stopped working, please help."] * 9
    bodies[4] = f"It broke again. {MARKER}"
    await send(settings, [email_bytes(i, body=body) for i, body in enumerate(bodies)])
    settings = settings.model_copy(
        update={"engine_retry_deadline_s": 0.3, "engine_retry_initial_backoff_s": 0.01})
    engine = Poisoned()
    daemon = daemon_for(settings, engine, check_drafts=False)
    started = asyncio.get_running_loop().time()
    drafts, dead = await run_until(daemon, settings, drafts=8, dead=1)
    took = asyncio.get_running_loop().time() - started
    assert sorted(d.in_reply_to for d in drafts) == sorted(
        f"<test-{i}@example.com>" for i in range(9) if i != 4)
    (letter,) = dead
    assert (letter.reason, letter.source.offset) == ("engine_request", 4)
    assert "repeatedly" in letter.error and MARKER not in letter.error
    assert await committed(settings) == 9
    assert engine.probes >= 2 and daemon._runner.isolated == 1
    assert took < 20, took
    print(f"isolated 1 of 9 in {took:.2f} s: {len(drafts)} drafts, {len(dead)} dead letter")


async def test_an_outage_with_a_failing_email_in_the_batch_still_dead_letters_nothing(
    settings: Settings,
) -> None:
    """While the probes fail too it is an outage: the batch is held, uncommitted; once the
    engine answers again, only the email it still fails is dead-lettered."""
    from tests.daemon.service.test_isolate import MARKER, Poisoned

    await send(settings, [email_bytes(i, body=f"Broken. {MARKER}" if i == 1 else "Broken.")
                          for i in range(3)])
    settings = settings.model_copy(
        update={"engine_retry_deadline_s": 0.2, "engine_retry_initial_backoff_s": 0.01})
    engine = Poisoned()
    engine.down = True
    daemon = daemon_for(settings, engine, check_drafts=False)
    task = asyncio.create_task(daemon.run())
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if engine.probes >= 3 and daemon._outage.down:
                break
        assert engine.probes >= 3 and daemon._ready_checks()["engine"] is False
        assert await read(settings, settings.deadletter_topic, 0, timeout_s=0.5) == []
        assert await committed(settings) is None and daemon._runner.isolated == 0
        engine.down = False
        drafts = await read(settings, settings.drafts_topic, 2)
        dead = await read(settings, settings.deadletter_topic, 1)
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)
    assert len(drafts) == 2 and [DeadLetter.model_validate_json(r.value).reason
                                 for r in dead] == ["engine_request"]
    assert await committed(settings) == 3


class _SlowFirstCall(EchoEngine):
    """The echo engine, whose first call is slow; counts the calls running at once."""

    def __init__(self, first_delay: float = 0.5) -> None:
        super().__init__()
        self.first_delay = first_delay
        self.release = asyncio.Event()  # ends the first call's delay early
        self.calls = 0
        self.sizes: list[int] = []  # requests per call
        self.running = 0
        self.most = 0

    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        self.calls += 1
        self.sizes.append(len(requests))
        delay = self.first_delay if self.calls == 1 else 0.01
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), delay)
            return await super().generate(requests)
        finally:
            self.running -= 1


@pytest.mark.parametrize("depth", [1, 3])
async def test_concurrent_batches_are_published_and_committed_in_fetch_order(
        settings: Settings, depth: int) -> None:
    settings = settings.model_copy(update={"max_batch_size": 2, "max_concurrent_batches": depth})
    await send(settings, [email_bytes(i) for i in range(10)])
    engine = _SlowFirstCall()
    drafts, _ = await run_until(daemon_for(settings, engine), settings, drafts=10, dead=0)
    # The first batch is the slowest; with depth 3 later batches finish first, yet the drafts
    # topic holds the drafts in input order and every offset is committed.
    assert [d.in_reply_to for d in drafts] == [f"<test-{i}@example.com>" for i in range(10)]
    assert await committed(settings) == 10
    # One batch calls the engine one stage at a time; several batches call it side by side.
    assert engine.most == 1 if depth == 1 else 1 < engine.most <= depth


async def test_emails_that_arrive_while_a_batch_runs_go_to_the_engine_together(
        settings: Settings) -> None:
    # Every fetch forms its own batch (no wait), one batch runs at a time, the first is slow:
    # what arrives meanwhile waits as five one-email batches, and goes in as one.
    settings = settings.model_copy(update={"max_wait_ms": 0, "max_concurrent_batches": 1})
    engine = _SlowFirstCall(first_delay=60.0)  # until every email is fetched (below)
    daemon = daemon_for(settings, engine)
    # Sent first: it creates the topic with one partition (a consumer's metadata request could
    # auto-create it with the broker's default, and then the arrival order is per partition).
    await send(settings, [email_bytes(0)])
    task = asyncio.create_task(daemon.run())
    try:
        while engine.calls == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        for i in range(1, 6):
            await send(settings, [email_bytes(i)])
        while daemon.metrics.registry.get_sample_value("replyd_inflight_emails") < 6:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        engine.release.set()
        drafts = await read(settings, settings.drafts_topic, 6)
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)
    assert [json.loads(r.value)["in_reply_to"] for r in drafts] == [
        f"<test-{i}@example.com>" for i in range(6)]
    # The first stage sends 2 requests per email: one call carried all five waiting emails.
    assert engine.sizes[0] == 2 and 10 in engine.sizes, engine.sizes
