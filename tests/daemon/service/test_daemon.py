"""The daemon loop against the real broker process, with the echo engine (transport logic)."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request

import pytest

from daemon.contracts import DeadLetter, Draft
from daemon.service.daemon import Daemon
from daemon.settings import Settings
from handlers.pipeline import PipelineConfig
from models.engines.base import Engine
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

    assert sorted(d.in_reply_to for d in drafts) == sorted(f"<test-{i}@example.com>" for i in range(10))
    assert all(d.sentiment in ("positive", "negative", "neutral") for d in drafts)
    assert all(d.to.startswith("customer") and d.subject.startswith("Re: ") for d in drafts)
    reasons = {letter.source.offset: letter.reason for letter in dead}
    assert reasons == {5: "invalid_json", 6: "invalid_json", 7: "schema", 8: "too_large", 9: "invalid_json"}
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


async def test_committed_offsets_are_not_reprocessed_after_restart(settings: Settings) -> None:
    await send(settings, [email_bytes(i) for i in range(3)])
    await run_until(daemon_for(settings), settings, drafts=3, dead=0)
    await send(settings, [email_bytes(i) for i in range(3, 5)])
    await run_until(daemon_for(settings), settings, drafts=5, dead=0)
    records = await read(settings, settings.drafts_topic, 5)
    keys = [r.key for r in records]
    assert len(keys) == 5 and len(set(keys)) == 5, keys


async def test_engine_errors_past_the_deadline_become_dead_letters(settings: Settings) -> None:
    engine = ScriptedEngine(lambda r: result("neutral"), failures=[EngineError("overloaded")] * 100)
    await send(settings, [email_bytes(1), email_bytes(2)])
    settings = settings.model_copy(
        update={"engine_retry_deadline_s": 0.2, "engine_retry_initial_backoff_s": 0.01})
    daemon = daemon_for(settings, engine)
    _, dead = await run_until(daemon, settings, drafts=0, dead=2)
    assert [letter.reason for letter in dead] == ["engine_error", "engine_error"]
    assert "overloaded" in dead[0].error


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
                          b"Subject: no sender\n\nhi\n"],
               headers=[("content-type", b"message/rfc822")])
    daemon = daemon_for(settings)
    task = asyncio.create_task(daemon.run())
    try:
        records = await read(settings, settings.drafts_topic, 2)
        (dead,) = await read(settings, settings.deadletter_topic, 1)
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)
    by_outcome = {json.loads(r.value)["outcome"]: r for r in records}
    draft = Draft.model_validate_json(by_outcome["drafted"].value)
    assert draft.in_reply_to == "<raw-1@example.org>" and draft.to == "dana1@example.org"
    assert draft.entities.name[0] == "Dana Ross"
    assert draft.language == "en"
    skipped = SkippedEmail.model_validate_json(by_outcome["skipped"].value)
    assert (skipped.in_reply_to, skipped.reason) == ("<raw-2@example.org>", "auto_reply")
    assert dict(by_outcome["skipped"].headers)["replyd-idempotency-key"] == b"<raw-2@example.org>"
    assert DeadLetter.model_validate_json(dead.value).reason == "invalid_mail"
