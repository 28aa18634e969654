"""The echo engine's timings and queue depth, and the engine-interface pieces they rest on."""

from __future__ import annotations

import asyncio
import re

import pytest

from models.engines.base import (
    Constraint,
    GenerateRequest,
    GenerateResult,
    PendingRequests,
    RequestTiming,
)
from models.engines.echo import EchoEngine, minimal_match


def requests(n: int) -> list[GenerateRequest]:
    return [GenerateRequest(prompt=f"Hello number {i}") for i in range(n)]


def test_results_compare_without_their_timing() -> None:
    fast = GenerateResult("hi", "stop", 2, 1, RequestTiming(0.0, 0.1, 0.2))
    slow = GenerateResult("hi", "stop", 2, 1, RequestTiming(1.0, 2.0, 3.0))
    assert fast == slow == GenerateResult("hi", "stop", 2, 1)
    assert hash(fast) == hash(slow)
    assert fast != GenerateResult("ho", "stop", 2, 1, fast.timing)


def test_pending_requests_count_done_and_leftovers() -> None:
    pending = PendingRequests()
    with pending.hold(5) as done:
        assert pending.count == 5
        done(2)
        assert pending.count == 3
        with pending.hold(4) as other_done:
            assert pending.count == 7
            other_done(10)  # more than it holds: only its own 4
            assert pending.count == 3
        assert pending.count == 3
    assert pending.count == 0
    done(1)  # late: the block already gave everything back
    assert pending.count == 0
    with pytest.raises(RuntimeError), pending.hold(3):
        raise RuntimeError("boom")
    assert pending.count == 0


async def test_timing_is_trivial_and_real() -> None:
    async with EchoEngine(delay_ms=30) as engine:
        results = await engine.generate(requests(3))
    for result in results:
        timing = result.timing
        assert timing is not None
        assert timing.queue_s == 0.0
        assert timing.ttft_s == timing.total_s
        assert 0.03 <= timing.total_s < 5


async def test_queue_depth_counts_requests_in_a_call_and_returns_to_zero() -> None:
    async with EchoEngine(delay_ms=200) as engine:
        assert engine.queue_depth() == 0
        call = asyncio.create_task(engine.generate(requests(4)))
        other = asyncio.create_task(engine.generate(requests(2)))
        await asyncio.sleep(0.05)
        assert engine.queue_depth() == 6
        await asyncio.gather(call, other)
        assert engine.queue_depth() == 0
        cancelled = asyncio.create_task(engine.generate(requests(3)))
        await asyncio.sleep(0.05)
        assert engine.queue_depth() == 3
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert engine.queue_depth() == 0


@pytest.mark.parametrize("regex", [
    r"(positive|negative|neutral)\|[^|\n]*\|[^|\n]*\|[^|\n]*",
    r"[0-9]{2,3}-x+",
    r"(?:ab|c)?d[^a-z]",
])
def test_a_regex_answer_is_a_shortest_match(regex: str) -> None:
    text = minimal_match(regex)
    assert re.fullmatch(regex, text), text
    assert minimal_match(r"(positive|negative)\|[^|]*") == "positive|"


async def test_a_regex_constrained_request_gets_a_match() -> None:
    line = Constraint(regex=r"(yes|no)\|[^|]*")
    async with EchoEngine() as engine:
        (answer,) = await engine.generate([GenerateRequest(prompt="Hi", constraint=line)])
    assert answer.text == "yes|"
