"""`replyd trial`: real or hostile mail through the real daemon, run as a subprocess, measured.

Embedded broker, inputs produced, ``replyd run`` as a child process (with ``--rate``: launched
first, the inputs then offered at a steady rate), ``/metrics`` scraped every 0.5 s (a slow scrape
means a blocked event loop), outputs read until every input is accounted for (by the
``replyd-trace-id`` header) or the timeout, SIGTERM; input → output record latencies.
report.json/report.md hold counts, reasons and names, never email text; drafts.md every draft
in full (local, never committed). docs/TRIALS.md says what the numbers mean.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from daemon.settings import Settings
from daemon.tools.broker import EmbeddedBroker, free_port
from daemon.tools.hostile import hostile_cases, select_cases, with_good
from daemon.tools.produce import RFC822_HEADERS, Headers, mail_key, produce
from daemon.tools.topics import ensure_topics
from daemon.tools.trial_measures import _share, latencies, latency_summary, mail_measures
from daemon.tools.trial_pace import http_get, offer_steadily
from models.errors import ConfigurationError

SCRAPE_INTERVAL_S = 0.5
SCRAPE_TIMEOUT_S = 5.0
STOP_GRACE_S = 15.0  # on top of the daemon's own shutdown_timeout_s


@dataclass(frozen=True, slots=True)
class TrialInput:
    """One record to send, named for reports (file or case name); hostile ones expect a label."""

    name: str
    value: bytes
    headers: Headers = field(default_factory=list)
    key: bytes | None = None
    expect: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came out for one input: drafted, skipped (reason) or dead_letter (reason)."""

    kind: str
    reason: str | None = None
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.kind if self.reason is None else f"{self.kind}:{self.reason}"


@dataclass
class Observed:
    """Everything measured while the daemon ran."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)
    scrape_s: list[float] = field(default_factory=list)
    scrape_failed_before_up: int = 0
    scrape_failed: int = 0
    up_s: float | None = None  # launch → first answered scrape
    ready_s: float | None = None  # --rate: launch → /readyz answered 200
    produced: int = 0  # inputs sent (--rate stops sending if the daemon exits)
    input_ms: dict[int, int] = field(default_factory=dict)  # input → its record timestamp
    output_ms: dict[int, int] = field(default_factory=dict)  # input → its output's timestamp
    exit_codes: list[int] = field(default_factory=list)  # exits the trial did not ask for
    stop_code: int | None = None  # the return code after SIGTERM
    seconds: float = 0.0  # launch → every input accounted (or the timeout)
    last_metrics: bytes = b""  # the last answered /metrics scrape


@dataclass(frozen=True, slots=True)
class TrialOptions:
    mode: str  # "eml" or "hostile"
    out: Path
    eml_dir: Path | None = None
    good: int = 10
    seed: int = 7
    cases: list[str] | None = None
    engine: str = "vllm"
    timeout_s: float = 1800.0
    rate: float | None = None  # emails per second once the daemon is ready; None: one burst


# -- inputs ---------------------------------------------------------------------------------------


def eml_inputs(folder: Path) -> list[TrialInput]:
    """Every ``*.eml`` file in ``folder`` (sorted by name) as a raw RFC 822 record."""
    files = sorted(p for p in folder.glob("*.eml") if p.is_file())
    if not files:
        raise ConfigurationError(f"{folder} holds no .eml files")
    raws = [(path.name, path.read_bytes()) for path in files]
    return [TrialInput(name, raw, list(RFC822_HEADERS), mail_key(raw)) for name, raw in raws]


def hostile_inputs(good: int, seed: int, cases: list[str] | None,
                   max_body_bytes: int) -> list[TrialInput]:
    chosen = select_cases(hostile_cases(max_body_bytes), cases)
    return [TrialInput(c.name, c.value, [], c.key, c.expect) for c in with_good(chosen, good, seed)]


def outcome_of(dead_letter: bool, value: bytes | None) -> tuple[Outcome, dict[str, Any]]:
    """The outcome a drafts-topic or dead-letter-topic record value stands for, and its JSON."""
    try:
        data = json.loads(value or b"")
    except ValueError:
        return Outcome("unreadable"), {}
    if not isinstance(data, dict):
        return Outcome("unreadable"), {}
    if dead_letter:
        return Outcome("dead_letter", str(data.get("reason"))), data
    if data.get("outcome", "drafted") == "skipped":
        return Outcome("skipped", str(data.get("reason"))), data
    return Outcome("drafted", None, data), data


def match_input(record: ConsumerRecord, data: dict[str, Any], traces: dict[str, int],
                coordinates: dict[tuple[str, int, int], int], trace_header: str) -> int | None:
    """The input an output belongs to: by trace-id header, else by a dead letter's source."""
    for key, value in record.headers or ():
        if key == trace_header and value is not None:
            found = traces.get(value.decode("ascii", "replace"))
            if found is not None:
                return found
    source = data.get("source")
    if isinstance(source, dict):
        return coordinates.get((source.get("topic"), source.get("partition"), source.get("offset")))
    return None


async def collect(settings: Settings, traces: dict[str, int],
                  coordinates: dict[tuple[str, int, int], int], observed: Observed,
                  exited: asyncio.Task[int], deadline: float) -> None:
    """Read both output topics into ``observed.outcomes`` (the first per input wins) until each
    input has one, the daemon exits, or ``deadline`` (monotonic) passes."""
    from daemon.service.codec import TRACE_HEADER

    consumer = AIOKafkaConsumer(
        settings.drafts_topic, settings.deadletter_topic, **settings.kafka_common(),
        group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                dead = tp.topic == settings.deadletter_topic
                for record in records:
                    outcome, data = outcome_of(dead, record.value)
                    index = match_input(record, data, traces, coordinates, TRACE_HEADER)
                    if index is not None and index not in observed.outcomes:
                        observed.outcomes[index] = outcome
                        observed.output_ms[index] = record.timestamp
            if len(observed.outcomes) >= len(traces) or time.monotonic() > deadline:
                return
            if exited.done() and not batches:
                return  # what it published before it exited has been read
    finally:
        await consumer.stop()


_DRAFT_OUTCOME = re.compile(r'^replyd_draft_outcomes_total\{outcome="(\w+)"\} (\S+)$', re.MULTILINE)


async def _get_metrics(port: int) -> bytes:
    status, answer = await http_get(port, "/metrics")
    if status != 200:
        raise ValueError("the metrics endpoint did not answer 200")
    return answer


async def scrape(port: int, observed: Observed, launched: float, stop: asyncio.Event) -> None:
    """GET /metrics every SCRAPE_INTERVAL_S (SCRAPE_TIMEOUT_S each) until ``stop``; failures
    before the first answer are the daemon starting, failures after it are counted as such."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            observed.last_metrics = await asyncio.wait_for(_get_metrics(port), SCRAPE_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError):
            observed.scrape_failed += observed.up_s is not None
            observed.scrape_failed_before_up += observed.up_s is None
        else:
            observed.scrape_s.append(time.perf_counter() - started)
            if observed.up_s is None:
                observed.up_s = time.monotonic() - launched
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SCRAPE_INTERVAL_S)


def daemon_env(settings: Settings, engine: str, port: int) -> dict[str, str]:
    """The parent's environment (so REPLYD_* model settings pass through) with the trial's
    broker, topics, group, engine and metrics port."""
    return {**os.environ, "REPLYD_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
            "REPLYD_INPUT_TOPIC": settings.input_topic, "REPLYD_GROUP_ID": settings.group_id,
            "REPLYD_DRAFTS_TOPIC": settings.drafts_topic, "REPLYD_ENGINE": engine,
            "REPLYD_DEADLETTER_TOPIC": settings.deadletter_topic,
            "REPLYD_METRICS_HOST": "127.0.0.1", "REPLYD_METRICS_PORT": str(port),
            "REPLYD_ENABLE_IDEMPOTENCE": str(settings.enable_idempotence).lower()}


async def run_trial(options: TrialOptions) -> dict[str, Any]:
    """The whole trial; writes report.json, report.md, drafts.md, daemon.log; the report."""
    from daemon.service.codec import trace_id

    base = Settings()  # REPLYD_* from the environment: the limits the daemon will run with
    if options.mode == "eml":
        assert options.eml_dir is not None
        inputs = eml_inputs(options.eml_dir)
    else:
        inputs = hostile_inputs(options.good, options.seed, options.cases, base.max_body_bytes)
    if options.rate is not None and len(inputs) / options.rate >= options.timeout_s:
        raise ConfigurationError(
            f"--rate {options.rate} takes {len(inputs) / options.rate:.0f} s to offer "
            f"{len(inputs)} inputs, not less than --timeout {options.timeout_s:g}")
    options.out.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    observed = Observed()
    async with EmbeddedBroker(port=0) as broker:
        settings = base.model_copy(update={
            "bootstrap_servers": broker.bootstrap, "input_topic": f"trial-in-{run}",
            "drafts_topic": f"trial-drafts-{run}", "deadletter_topic": f"trial-dead-{run}",
            "group_id": f"replyd-trial-{run}",
            "enable_idempotence": False,  # the embedded broker cannot do idempotence
        })
        await ensure_topics(settings, [settings.input_topic, settings.drafts_topic,
                                       settings.deadletter_topic])
        messages = [(i.key, i.value, i.headers) for i in inputs]
        burst = options.rate is None
        sent = await produce(settings, settings.input_topic, messages) if burst else []
        port = free_port()
        with (options.out / "daemon.log").open("wb") as log_file:
            launched = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "daemon.cli", "run", stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file, stderr=asyncio.subprocess.STDOUT,
                env=daemon_env(settings, options.engine, port),
            )
            exited = asyncio.create_task(process.wait())
            stop = asyncio.Event()
            scraping = asyncio.create_task(scrape(port, observed, launched, stop))
            try:
                if options.rate is not None:
                    offered = await offer_steadily(settings, messages, options.rate, port,
                                                   exited, launched, launched + options.timeout_s)
                    observed.ready_s, sent = offered.ready_s, offered.sent
                observed.produced = len(sent)
                # A burst's records share a batch's first timestamp in aiokafka (ms apart).
                observed.input_ms = {n: m.timestamp for n, m in enumerate(sent)
                                     if m.timestamp is not None and m.timestamp >= 0}
                traces = {trace_id(m.topic, m.partition, m.offset): n for n, m in enumerate(sent)}
                coordinates = {(m.topic, m.partition, m.offset): n for n, m in enumerate(sent)}
                await collect(settings, traces, coordinates, observed, exited,
                              launched + options.timeout_s)
            finally:
                observed.seconds = time.monotonic() - launched
                stop.set()
                await scraping
                if not exited.done():  # the last batch's counts may postdate the last scrape
                    with contextlib.suppress(OSError, TimeoutError, ValueError):
                        observed.last_metrics = await asyncio.wait_for(_get_metrics(port),
                                                                       SCRAPE_TIMEOUT_S)
                if exited.done():
                    observed.exit_codes.append(exited.result())
                else:
                    observed.stop_code = await stop_daemon(
                        process, exited, base.shutdown_timeout_s + STOP_GRACE_S)
    report = build_report(options, inputs, observed, base.allowed_domains)
    (options.out / "report.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    (options.out / "report.md").write_text(render_report(report), "utf-8")
    (options.out / "drafts.md").write_text(render_drafts(inputs, observed.outcomes), "utf-8")
    return report


async def stop_daemon(process: asyncio.subprocess.Process, exited: asyncio.Task[int],
                      grace_s: float) -> int:
    """SIGTERM, then SIGKILL after ``grace_s``; the return code."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(asyncio.shield(exited), grace_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        return await exited


# -- the report -----------------------------------------------------------------------------------


def build_report(options: TrialOptions, inputs: list[TrialInput], observed: Observed,
                 allowed_domains: tuple[str, ...] = ()) -> dict[str, Any]:
    """Counts, reasons, process exits, scrape times; per hostile case, expected and got."""
    outcomes = observed.outcomes
    kinds = Counter(o.kind for o in outcomes.values())
    review = sum(bool(o.record.get("needs_review")) for o in outcomes.values())
    times = observed.scrape_s
    report: dict[str, Any] = {
        "mode": options.mode, "engine": options.engine, "inputs": len(inputs),
        "drafted": kinds["drafted"],
        "skipped": dict(Counter(o.reason for o in outcomes.values() if o.kind == "skipped")),
        "dead_lettered": dict(Counter(o.reason for o in outcomes.values()
                                      if o.kind == "dead_letter")),
        "unreadable_outputs": kinds["unreadable"],
        "unaccounted": len(inputs) - len(outcomes),
        "needs_review": review, "needs_review_share": _share(review, kinds["drafted"]),
        "process_exits": len(observed.exit_codes), "exit_codes": observed.exit_codes,
        "stop_return_code": observed.stop_code,
        # How the checked drafts ended (passed, repaired, regenerated, fallback), at the last
        # scrape (one more after every input was accounted for).
        "draft_outcomes": {m.group(1): int(float(m.group(2))) for m in _DRAFT_OUTCOME.finditer(
            observed.last_metrics.decode("utf-8", "replace"))},
        "scrapes": {
            "count": len(times), "failed_before_up": observed.scrape_failed_before_up,
            "failed_after_up": observed.scrape_failed,
            "p50_s": round(statistics.median(times), 4) if times else None,
            "worst_s": round(max(times), 4) if times else None,
        },
        "daemon_up_s": None if observed.up_s is None else round(observed.up_s, 2),
        "daemon_ready_s": None if observed.ready_s is None else round(observed.ready_s, 2),
        "seconds": round(observed.seconds, 2),
        # None: every input was sent before the daemon's launch, so start-up is in each latency.
        "offered_rate": options.rate, "produced": observed.produced,
        "latency": latency_summary(latencies(observed.input_ms, observed.output_ms, outcomes)),
        "drafted_latency": latency_summary(latencies(
            observed.input_ms, observed.output_ms,
            [n for n, o in outcomes.items() if o.kind == "drafted"])),
    }
    rows = [{"name": item.name,
             "got": outcomes[n].label if n in outcomes else "unaccounted",
             **({"expected": item.expect} if item.expect else {})}
            for n, item in enumerate(inputs)]
    if options.mode == "hostile":
        for row in rows:
            row["as_expected"] = row["got"] == row["expected"]
        report["cases"] = [row for row in rows if not row["name"].startswith("good-")]
        report["good"] = [row for row in rows if row["name"].startswith("good-")]
        report["unexpected"] = [row["name"] for row in rows if not row["as_expected"]]
    else:
        report["files"] = rows
        report["mail"] = mail_measures(inputs, outcomes, allowed_domains)
    return report


def summary_line(report: dict[str, Any]) -> str:
    reasons = {**{f"skipped {k}": v for k, v in report["skipped"].items()},
               **{f"dead {k}": v for k, v in report["dead_lettered"].items()}}
    detail = ", ".join(f"{v} {k}" for k, v in sorted(reasons.items()))
    scrapes, latency, rate = report["scrapes"], report["latency"], report["offered_rate"]
    offered = "burst, start-up included" if rate is None else f"at {rate:g}/s"
    return (f"trial ({report['mode']}, {report['engine']}): {report['inputs']} in, "
            f"{report['drafted']} drafted" + (f", {detail}" if detail else "")
            + f", {report['unaccounted']} unaccounted; {report['process_exits']} process exits; "
            f"scrapes {scrapes['count']} p50 {scrapes['p50_s']}s worst {scrapes['worst_s']}s; "
            f"latency ({offered}) p50 {latency['p50_s']}s p99 {latency['p99_s']}s; "
            f"{report['seconds']}s")


def render_report(report: dict[str, Any]) -> str:
    """report.json as Markdown: no email text, only counts, reasons and names."""
    lines = [f"# replyd trial: {report['mode']}, engine {report['engine']}", "",
             summary_line(report), "", "| measure | value |", "|---|---|"]
    for key in ("inputs", "drafted", "skipped", "dead_lettered", "unaccounted",
                "unreadable_outputs", "needs_review_share", "draft_outcomes", "process_exits",
                "exit_codes",
                "stop_return_code", "scrapes", "daemon_up_s", "daemon_ready_s", "seconds",
                "offered_rate", "produced", "latency", "drafted_latency"):
        lines.append(f"| {key} | `{json.dumps(report[key])}` |")
    lines += ["", "Latency: input record timestamp → output record timestamp (nearest rank); "
              + ("all inputs were sent before the daemon's launch, so its start-up is in them."
                 if report["offered_rate"] is None else
                 f"inputs offered at {report['offered_rate']:g}/s once the daemon was ready.")]
    if "mail" in report:
        mail = report["mail"]
        lines += ["", "## Drafts of real mail", "", "| measure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in mail.items() if k != "rules"]
        lines += ["", "Rules:", ""] + [f"- **{k}**: {v}" for k, v in mail["rules"].items()]
        lines += ["", "## Files", "", "| file | outcome |", "|---|---|"]
        lines += [f"| {row['name']} | {row['got']} |" for row in report["files"]]
    if "cases" in report:
        good = report["good"]
        lines += ["", "## Hostile cases", "", "| case | expected | got | ok |", "|---|---|---|---|"]
        lines += [f"| {r['name']} | {r['expected']} | {r['got']} | "
                  f"{'yes' if r['as_expected'] else '**no**'} |" for r in report["cases"]]
        lines += ["", f"Good synthetic emails: {sum(r['as_expected'] for r in good)} of "
                  f"{len(good)} drafted. Unexpected: {', '.join(report['unexpected']) or 'none'}."]
    return "\n".join(lines) + "\n"


def render_drafts(inputs: list[TrialInput], outcomes: dict[int, Outcome]) -> str:
    """Every draft in full, for a person to read. Holds email-derived text: never commit it."""
    lines = ["# Trial drafts (local output: email-derived text, never commit)", ""]
    for n, outcome in sorted(outcomes.items()):
        if outcome.kind != "drafted":
            continue
        d = outcome.record
        lines += [f"## {inputs[n].name}", "", f"- subject: {d.get('subject', '')}",
                  f"- sentiment: {d.get('sentiment')}; language: {d.get('language')}; "
                  f"request: {d.get('request')}",
                  f"- needs_review: {d.get('needs_review')} {d.get('review_reasons') or ''}",
                  f"- entities: {json.dumps(d.get('entities'), ensure_ascii=False)}", "",
                  *("    " + line for line in str(d.get("body", "")).splitlines()), ""]
    return "\n".join(lines)


def cmd_trial(args: argparse.Namespace) -> int:
    """``replyd trial``: exit 0 when every input was accounted for and the daemon never exited
    on its own, 1 otherwise (the report says what happened either way)."""
    if args.good < 0:
        raise ConfigurationError("--good must be 0 or more")
    if args.timeout <= 0:
        raise ConfigurationError("--timeout must be positive")
    if args.eml_dir is not None and not args.eml_dir.is_dir():
        raise ConfigurationError(f"--eml-dir {args.eml_dir} is not a folder")
    if args.cases is not None and not args.hostile:
        raise ConfigurationError("--cases goes with --hostile")
    if args.rate is not None and not (0 < args.rate < float("inf")):
        raise ConfigurationError("--rate must be a positive number of emails per second")
    options = TrialOptions(
        mode="hostile" if args.hostile else "eml", out=args.out, eml_dir=args.eml_dir,
        good=args.good, seed=args.seed, engine=args.engine, timeout_s=args.timeout,
        rate=args.rate,
        cases=args.cases.split(",") if args.cases is not None else None,
    )
    report = asyncio.run(run_trial(options))
    print(summary_line(report))
    print(f"report: {args.out / 'report.md'}; drafts (never commit): {args.out / 'drafts.md'}")
    return 0 if report["unaccounted"] == 0 and report["process_exits"] == 0 else 1
