"""Engine metrics: the MeteredEngine wrapper, and the series a daemon run leaves behind."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest
from prometheus_client import generate_latest

from daemon.service.daemon import Daemon
from daemon.service.metered import MeteredEngine
from daemon.service.metrics import Metrics
from daemon.settings import Settings
from handlers.pipeline import PipelineConfig
from models.engines.base import (
    AdapterInfo,
    Engine,
    GenerateRequest,
    GenerateResult,
    RequestTiming,
)
from models.engines.echo import EchoEngine
from models.errors import AdapterError, EngineError
from tests.daemon.kafka_helpers import email_bytes, read, send

ADAPTER = "acme-sentiment"
INFO = AdapterInfo(ADAPTER, task="sentiment", method="lora", path="/nowhere")


class TimedEngine(Engine):
    """Answers every request with a fixed timing (or raises the queued failures first)."""

    name = "timed"

    def __init__(self, timing: RequestTiming | None, failures: Sequence[Exception] = ()) -> None:
        self.timing = timing
        self.failures = list(failures)
        self.depth = 0
        self.started = False

    @property
    def base_model(self) -> str:
        return "timed-model"

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    def healthy(self) -> bool:
        return self.started

    def adapters(self) -> Mapping[str, AdapterInfo]:
        return {ADAPTER: INFO}

    def queue_depth(self) -> int:
        return self.depth

    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        if self.failures:
            raise self.failures.pop(0)
        return [GenerateResult("ok", "stop", 3, 1, self.timing) for _ in requests]


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def prompts(n: int, adapter: str | None = None) -> list[GenerateRequest]:
    return [GenerateRequest(prompt=f"hello {i}", adapter=adapter) for i in range(n)]


async def test_metered_engine_delegates_everything() -> None:
    inner = TimedEngine(RequestTiming(0.1, 0.2, 0.3))
    metered = MeteredEngine(inner, Metrics())
    assert metered.name == "timed"
    assert metered.base_model == "timed-model"
    assert metered.wrapped is inner
    assert dict(metered.adapters()) == {ADAPTER: INFO}
    assert not metered.healthy()
    async with metered:
        assert inner.started and metered.healthy()
        inner.depth = 7
        assert metered.queue_depth() == 7
        metered.check_adapter(ADAPTER)
        with pytest.raises(AdapterError):
            metered.check_adapter("nobody")
        results = await metered.generate(prompts(2))
        assert [r.text for r in results] == ["ok", "ok"]
        assert results[0].timing == RequestTiming(0.1, 0.2, 0.3)
    assert not inner.started


async def test_each_call_records_batch_size_and_per_adapter_timings() -> None:
    metrics = Metrics()
    metered = MeteredEngine(TimedEngine(RequestTiming(0.02, 0.3, 1.5)), metrics)
    await metered.generate(prompts(3) + prompts(2, ADAPTER))
    await metered.generate(prompts(1, ADAPTER))
    await metered.generate([])  # nothing asked, nothing observed

    assert sample(metrics, "replyd_engine_batch_size_count") == 2
    assert sample(metrics, "replyd_engine_batch_size_sum") == 6
    assert sample(metrics, "replyd_engine_batch_size_bucket", le="4.0") == 1
    assert sample(metrics, "replyd_engine_batch_size_bucket", le="8.0") == 2
    for adapter, n in (("base", 3), (ADAPTER, 3)):
        assert sample(metrics, "replyd_engine_queue_seconds_count", adapter=adapter) == n
        assert sample(metrics, "replyd_engine_queue_seconds_sum", adapter=adapter) == (
            pytest.approx(0.02 * n)
        )
        ttft = "replyd_engine_time_to_first_token_seconds"
        assert sample(metrics, f"{ttft}_count", adapter=adapter) == n
        assert sample(metrics, f"{ttft}_bucket", adapter=adapter, le="0.25") == 0
        assert sample(metrics, f"{ttft}_bucket", adapter=adapter, le="0.5") == n
        generation = "replyd_engine_generation_seconds"
        assert sample(metrics, f"{generation}_count", adapter=adapter) == n
        assert sample(metrics, f"{generation}_sum", adapter=adapter) == pytest.approx(1.5 * n)


async def test_missing_timings_are_skipped_and_failed_calls_not_recorded() -> None:
    metrics = Metrics()
    inner = TimedEngine(RequestTiming(None, None, 0.5), failures=[EngineError("busy")])
    metered = MeteredEngine(inner, metrics)
    with pytest.raises(EngineError):
        await metered.generate(prompts(4))
    assert sample(metrics, "replyd_engine_batch_size_count") == 0
    await metered.generate(prompts(2))
    assert sample(metrics, "replyd_engine_batch_size_count") == 1
    assert sample(metrics, "replyd_engine_generation_seconds_count", adapter="base") == 2
    # No queue or first-token figure from this engine: no series at all, not zeros.
    assert sample(metrics, "replyd_engine_queue_seconds_count", adapter="base") is None
    ttft = "replyd_engine_time_to_first_token_seconds_count"
    assert sample(metrics, ttft, adapter="base") is None
    inner.timing = None  # an engine without timings: only the batch size
    await metered.generate(prompts(5))
    assert sample(metrics, "replyd_engine_batch_size_sum") == 7
    assert sample(metrics, "replyd_engine_generation_seconds_count", adapter="base") == 2


async def test_queue_depth_gauge_reads_the_engine_at_scrape() -> None:
    metrics = Metrics()
    async with EchoEngine(delay_ms=300) as echo:
        metered = MeteredEngine(echo, metrics)
        assert sample(metrics, "replyd_engine_queue_depth") == 0
        call = asyncio.create_task(metered.generate(prompts(5)))
        await asyncio.sleep(0.1)
        assert sample(metrics, "replyd_engine_queue_depth") == 5
        assert "replyd_engine_queue_depth 5.0" in generate_latest(metrics.registry).decode()
        await call
        assert sample(metrics, "replyd_engine_queue_depth") == 0


async def test_a_daemon_run_exports_engine_metrics_per_adapter(settings: Settings) -> None:
    emails = 6
    await send(settings, [email_bytes(i) for i in range(emails)])
    engine = EchoEngine({ADAPTER: INFO}, delay_ms=10)
    # Echo drafts fail their checks; without the checks' second try, two calls per batch.
    config = PipelineConfig(adapters={"sentiment": ADAPTER}, check_drafts=False)
    daemon = Daemon(settings, engine, config)
    assert isinstance(daemon.pipeline._engine, MeteredEngine)  # what the pipeline calls
    task = asyncio.create_task(daemon.run())
    try:
        await read(settings, settings.drafts_topic, emails)
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)

    m = daemon.metrics
    # Sentiment and entities go in one call, replies in a second, per fetched batch.
    calls = sample(m, "replyd_engine_batch_size_count")
    assert calls is not None and calls >= 2 and calls % 2 == 0
    assert sample(m, "replyd_engine_batch_size_sum") == 3 * emails
    expected = {ADAPTER: emails, "base": 2 * emails}  # sentiment; entities and reply
    for name in (
        "replyd_engine_queue_seconds",
        "replyd_engine_time_to_first_token_seconds",
        "replyd_engine_generation_seconds",
    ):
        for adapter, n in expected.items():
            assert sample(m, f"{name}_count", adapter=adapter) == n, (name, adapter)
    generation = sample(m, "replyd_engine_generation_seconds_sum", adapter="base")
    assert generation is not None and generation >= 0.01 * 2 * emails  # the echo's 10 ms delay
    assert sample(m, "replyd_engine_queue_depth") == 0
    text = generate_latest(m.registry).decode()
    assert f'replyd_engine_generation_seconds_count{{adapter="{ADAPTER}"}} {emails}.0' in text
    assert "replyd_engine_queue_depth 0.0" in text
