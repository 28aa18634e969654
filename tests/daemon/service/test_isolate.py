"""Telling an engine outage from an email the engine fails on every time (daemon.service.isolate),
with the real pipeline on a scripted engine."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence

import pytest

from daemon.service.isolate import PART_RETRIES, PROBE, BatchRunner, merge
from daemon.service.outage import EngineOutage
from handlers.pipeline import BatchResult, Pipeline, PipelineConfig
from handlers.types import DraftText, EmailText, TaskFailure, Usage
from models.engines.base import GenerateRequest, GenerateResult
from models.errors import EngineDeadError, EngineError
from tests.handlers.fakes import ScriptedEngine, result

MARKER = "ZZPOISONZZ"


def _answers(request: GenerateRequest) -> GenerateResult:
    if request.constraint is None or request.constraint.choices:
        return result("neutral")
    return result('{"name":[],"product":[],"location":[]}')


def _text(request: GenerateRequest) -> str:
    if request.prompt is not None:
        return request.prompt
    return "\n".join(m.content for m in request.messages or ())


class Poisoned(ScriptedEngine):
    """A server that answers 500 to any request that carries ``MARKER`` (every time), and to
    everything while ``down``; healthy throughout, like the openai engine between failures."""

    def __init__(self) -> None:
        super().__init__(_answers)
        self.down = False
        self.probes = 0

    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        self.calls.append(list(requests))
        if list(requests) == [PROBE]:
            self.probes += 1
        if self.down or any(MARKER in _text(r) for r in requests):
            raise EngineError("http://127.0.0.1:1/v1/chat/completions answered 500: worker died")
        return [self._script(r) for r in requests]


def emails(n: int, poison: Sequence[int] = ()) -> list[EmailText]:
    return [EmailText(f"<m{i}@x>", f"Question {i}",
                      f"My blender {i} broke. {MARKER if i in poison else ''} Please help.")
            for i in range(n)]


def runner(engine: Poisoned, stop: asyncio.Event | None = None,
           deadline_s: float = 0.1) -> tuple[BatchRunner, EngineOutage]:
    pipeline = Pipeline(engine, PipelineConfig(check_drafts=False))
    outage = EngineOutage(deadline_s, 0.005, engine.healthy)
    return BatchRunner(pipeline.run, [engine], outage, deadline_s, 0.005,
                       stop or asyncio.Event()), outage


def kinds(batch: BatchResult) -> list[str]:
    return [o.reason if isinstance(o, TaskFailure) else "draft" for o in batch.outcomes]


async def test_the_email_the_engine_keeps_failing_is_isolated_and_the_rest_drafted() -> None:
    engine = Poisoned()
    run, outage = runner(engine)
    started = time.monotonic()
    batch = await asyncio.wait_for(run.run(emails(9, poison=[6])), 10)
    took = time.monotonic() - started
    assert kinds(batch) == ["draft"] * 6 + ["engine_request"] + ["draft"] * 2
    failure = batch.outcomes[6]
    assert isinstance(failure, TaskFailure) and "repeatedly" in failure.error
    assert MARKER not in failure.error and "blender" not in failure.error  # no email text
    assert run.isolated == 1 and not outage.down
    assert engine.probes >= 2  # once to call it the batch's fault, once before condemning
    assert took < 5, took
    # Usage and stage times of the parts are summed into the batch's.
    assert batch.usage_by_task["sentiment"].prompt_tokens == 8 * 10


async def test_several_failing_emails_are_all_isolated_within_the_level_bound() -> None:
    engine = Poisoned()
    run, _ = runner(engine)
    batch = await asyncio.wait_for(run.run(emails(16, poison=[0, 9, 15])), 20)
    assert [i for i, k in enumerate(kinds(batch)) if k != "draft"] == [0, 9, 15]
    # Each poisoned email fails at most (1 + retries) tries of a part per level, over log2(16)
    # levels (a part's first stage sends 2 requests per email; the whole batch's sends 32).
    failing_parts = [c for c in engine.calls if len(c) < 32 and any(MARKER in _text(r) for r in c)]
    assert len(failing_parts) <= 3 * 4 * (1 + PART_RETRIES), len(failing_parts)
    assert min(map(len, failing_parts)) == 2  # down to single emails
    assert run.isolated == 3


async def test_a_single_email_batch_that_keeps_failing_is_dead_lettered() -> None:
    engine = Poisoned()
    run, _ = runner(engine)
    batch = await asyncio.wait_for(run.run(emails(1, poison=[0])), 10)
    assert kinds(batch) == ["engine_request"]


async def test_an_outage_is_waited_for_and_nothing_is_isolated() -> None:
    engine = Poisoned()
    engine.down = True  # the probes fail too
    stop = asyncio.Event()
    run, outage = runner(engine, stop)
    task = asyncio.create_task(run.run(emails(4, poison=[2])))
    await asyncio.sleep(0.6)  # six deadlines
    assert not task.done() and outage.down and engine.probes >= 1 and run.isolated == 0
    engine.down = False  # back: now the batch's own failure shows, and is isolated
    batch = await asyncio.wait_for(task, 10)
    assert kinds(batch) == ["draft", "draft", "engine_request", "draft"]
    assert not outage.down


async def test_an_outage_that_starts_during_the_isolation_condemns_nobody() -> None:
    engine = Poisoned()
    stop = asyncio.Event()
    run, outage = runner(engine, stop)
    original = engine.generate

    async def goes_down(requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        if engine.probes >= 1 and list(requests) != [PROBE]:
            engine.down = True  # after the first probe answered: everything fails from now
        return await original(requests)

    engine.generate = goes_down  # type: ignore[method-assign]
    task = asyncio.create_task(run.run(emails(4, poison=[1])))
    await asyncio.sleep(0.8)
    assert not task.done() and run.isolated == 0 and outage.down
    stop.set()
    with pytest.raises(EngineDeadError, match="at shutdown"):
        await asyncio.wait_for(task, 5)


async def test_a_stop_request_ends_the_isolation_promptly() -> None:
    engine = Poisoned()
    stop = asyncio.Event()
    pipeline = Pipeline(engine, PipelineConfig(check_drafts=False))
    outage = EngineOutage(0.05, 5.0, engine.healthy)
    run = BatchRunner(pipeline.run, [engine], outage, 0.05, 5.0, stop)  # 5 s backoffs
    task = asyncio.create_task(run.run(emails(8, poison=[3])))
    await asyncio.sleep(0.3)
    stop.set()
    started = time.monotonic()
    with pytest.raises(EngineDeadError):
        await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 1.0
    assert run.isolated == 0


async def test_a_dead_engine_during_the_probe_is_not_an_isolation() -> None:
    engine = Poisoned()
    run, _ = runner(engine)

    async def dead(requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        if list(requests) == [PROBE]:
            raise EngineDeadError("gone")
        raise EngineError("503")

    engine.generate = dead  # type: ignore[method-assign]
    with pytest.raises(EngineDeadError, match="gone"):
        await asyncio.wait_for(run.run(emails(2)), 5)


class PoisonServer:
    """An OpenAI-compatible stub on 127.0.0.1: 500 to any completion whose body carries MARKER
    (every time), a plain answer to the rest; ``down`` answers 503 to every completion."""

    def __init__(self) -> None:
        self.down = False
        self.statuses: Counter[int] = Counter()
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                           if line.lower().startswith("content-length:")), 0)
            body = (await reader.readexactly(length)).decode()
            status, payload = 200, {"data": [{"id": "base"}]}
            if head.startswith("POST"):
                request = json.loads(body)
                status = 503 if self.down else 500 if MARKER in body else 200
                self.statuses[status] += 1
                choices = request.get("structured_outputs", {}).get("choice")
                text = (choices[0] if choices else '{"name":[],"product":[],"location":[]}'
                        if "response_format" in request else "Thanks, we will help.")
                payload = {"choices": [{"message": {"content": text}, "text": text,
                                        "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 5, "completion_tokens": 1}}
                if status != 200:
                    payload = {"error": {"message": f"stub {status}"}}
            data = json.dumps(payload).encode()
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                         + data)
            await writer.drain()
        finally:
            writer.close()


async def test_the_openai_engine_answering_500_to_one_email_loses_only_that_email() -> None:
    """The real client engine: its 500s turn it unhealthy (an outage at once, as before), the
    probe's 2xx restores it, and the bisection finds the email."""
    from models.engines.openai_engine import OpenAIEngine

    server = PoisonServer()
    url = await server.start()
    try:
        async with OpenAIEngine([url], "base", max_retries=1, backoff_s=0.01) as engine:
            pipeline = Pipeline(engine, PipelineConfig(check_drafts=False))
            outage = EngineOutage(0.2, 0.01, engine.healthy)
            run = BatchRunner(pipeline.run, [engine], outage, 0.2, 0.01, asyncio.Event())
            batch = await asyncio.wait_for(run.run(emails(6, poison=[5])), 30)
            assert kinds(batch) == ["draft"] * 5 + ["engine_request"]
            assert engine.healthy() and not outage.down and server.statuses[500] > 0
            server.down = True  # now a real outage: held, nothing isolated
            task = asyncio.create_task(run.run(emails(3, poison=[0])))
            await asyncio.sleep(1.0)
            assert not task.done() and outage.down and run.isolated == 1
            server.down = False
            assert kinds(await asyncio.wait_for(task, 30)) == ["engine_request", "draft", "draft"]
    finally:
        await server.close()


def test_merge_puts_outcomes_back_in_batch_order_and_sums_costs() -> None:
    def draft(body: str) -> DraftText:
        return DraftText(body=body, sentiment="neutral", entities=None,  # type: ignore[arg-type]
                         persona=None, needs_review=False, review_reasons=(), adapters={},
                         usage=Usage(1, 1), timings_ms={}, language="en")

    left = BatchResult([draft("a"), draft("c")], {"reply": 1.0}, {"reply": Usage(5, 2)},
                       Counter(passed=2))
    right = BatchResult([draft("d")], {"reply": 0.5}, {"reply": Usage(1, 1)}, Counter(passed=1))
    poison = TaskFailure("engine_request", "engine", "x")
    merged = merge(4, [([0, 2], left), ([3], right)], {1: poison})
    assert [getattr(o, "body", o) for o in merged.outcomes] == ["a", poison, "c", "d"]
    assert merged.stage_seconds == {"reply": 1.5}
    assert merged.usage_by_task == {"reply": Usage(6, 3)}
    assert merged.draft_outcomes == Counter(passed=3)
    with pytest.raises(AssertionError):
        merge(3, [([0], right)], {})
