"""Every Prometheus series replyd exports, in one place.

Naming follows the Prometheus guide: prefix ``replyd_``, base units, ``_total`` for counters, no
colons, and no label whose values come from email content or ids. Other code calls the small
recording methods below; nothing else creates series. ``docs/METRICS.md`` documents each one.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from daemon import __version__
from handlers import second_reads, topic
from handlers.checks import CHECKS
from handlers.pipeline import BatchResult, PipelineConfig
from handlers.types import DraftText
from models.engines.base import GenerateRequest, GenerateResult
from models.vocabulary import DEAD_LETTER_REASONS, SKIP_REASONS, TASKS

# The *_created series double the exposition for no use on dashboards or alerts.
disable_created_metrics()

STAGES = ("parse", *TASKS, "publish")
DRAFT_OUTCOMES = ("passed", "repaired", "regenerated", "fallback")
PERSONA_OUTCOMES = ("rewritten", "kept_plain")
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# Requests per engine call: the pipeline sends up to 2 per email (sentiment + entities).
ENGINE_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
F1_BUCKETS = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)


@dataclass(slots=True)
class LoopStats:
    """Plain counters of the daemon loop for benchmarks and tests (Prometheus series: Metrics)."""

    first_fetch_at: float | None = None  # perf_counter() when the first records arrived
    last_publish_at: float | None = None  # perf_counter() when the last batch was acknowledged
    published: int = 0  # records whose draft or dead letter is acknowledged and committed


class Metrics:
    """The catalogue, bound to one registry (one per daemon; tests make their own)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.emails_consumed = Counter(
            "replyd_emails_consumed_total", "Messages fetched from the input topic.", registry=r
        )
        self.drafts_published = Counter(
            "replyd_drafts_published_total", "Drafts acknowledged by the broker.", registry=r
        )
        self.dead_letters = Counter(
            "replyd_dead_letters_total",
            "Dead letters acknowledged by the broker, by reason code.",
            ["reason"],
            registry=r,
        )
        self.skipped = Counter(
            "replyd_emails_skipped_total",
            "Emails that want no reply (skipped records acknowledged on the drafts topic), by "
            "reason.",
            ["reason"],
            registry=r,
        )
        self.review_reasons = Counter(
            "replyd_drafts_needing_review_total",
            "Drafts written with needs_review, by reason (a draft can have several).",
            ["reason"],
            registry=r,
        )
        self.requests = Counter(
            "replyd_drafts_by_request_total",
            "Drafts written, by what the email asks for (handlers.topic; unclear when no one "
            "request clearly wins).",
            ["request"],
            registry=r,
        )
        self.unknown_fields = Counter(
            "replyd_emails_with_unknown_fields_total",
            "Valid emails that carried fields this version does not know (ignored).",
            registry=r,
        )
        self.batch_size = Histogram(
            "replyd_batch_size",
            "Emails per pipeline batch.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.stage_latency = Histogram(
            "replyd_stage_latency_seconds",
            "Time one batch spent in a stage.",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.email_latency = Histogram(
            "replyd_email_latency_seconds",
            "From the input record's timestamp to its draft or dead letter being acknowledged.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inflight = Gauge(
            "replyd_inflight_emails", "Emails fetched but not yet committed.", registry=r
        )
        self.consumer_lag = Gauge(
            "replyd_consumer_lag",
            "Records behind the fetch high watermark, per assigned partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.inference_tokens = Counter(
            "replyd_inference_tokens_total",
            "Tokens processed by the engine, by adapter (customization ID or 'base') and kind "
            "(prompt or completion).",
            ["adapter", "kind"],
            registry=r,
        )
        self.adapter_requests = Counter(
            "replyd_adapter_requests_total",
            "Engine requests by adapter (customization ID or 'base').",
            ["adapter"],
            registry=r,
        )
        self.engine_up = Gauge("replyd_engine_up", "1 while the engine is healthy.", registry=r)
        self.engine_batch_size = Histogram(
            "replyd_engine_batch_size",
            "Requests per engine generate call.",
            buckets=ENGINE_BATCH_BUCKETS,
            registry=r,
        )
        self.engine_queue_depth = Gauge(
            "replyd_engine_queue_depth",
            "Requests submitted to the engine and not finished.",
            registry=r,
        )
        self.engine_queue = Histogram(
            "replyd_engine_queue_seconds",
            "From a request's submission to the engine until the engine started on it, by "
            "adapter (customization ID or 'base').",
            ["adapter"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.engine_ttft = Histogram(
            "replyd_engine_time_to_first_token_seconds",
            "From a request's submission to the engine until its first generated token, by "
            "adapter (customization ID or 'base').",
            ["adapter"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.engine_generation = Histogram(
            "replyd_engine_generation_seconds",
            "From a request's submission to the engine until its last token, by adapter "
            "(customization ID or 'base').",
            ["adapter"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.last_commit = Gauge(
            "replyd_last_commit_timestamp_seconds",
            "Unix time of the last successful offset commit (or committed transaction).",
            registry=r,
        )
        self.rebalances = Counter(
            "replyd_rebalances_total", "Partition revocations seen by this instance.", registry=r
        )
        self.abandoned = Counter(
            "replyd_abandoned_emails_total",
            "Fetched emails left uncommitted because their partition was revoked (replayed by "
            "the new owner).",
            registry=r,
        )
        self.publish_retries = Counter(
            "replyd_publish_retries_total",
            "Batches resent (or transactions retried) after a failed acknowledgement.",
            registry=r,
        )
        self.draft_outcomes = Counter(
            "replyd_draft_outcomes_total",
            "Checked reply drafts by outcome: passed (first draft), repaired (first draft mended), "
            "regenerated (second draft passed) or fallback (grounded fallback, needs_review).",
            ["outcome"],
            registry=r,
        )
        self.draft_check_failures = Counter(
            "replyd_draft_check_failures_total",
            "Checks failed by first reply drafts, by check (a draft can fail several); "
            "persona_<check> for checks failed by persona rewrites.",
            ["check"],
            registry=r,
        )
        self.persona_outcomes = Counter(
            "replyd_persona_outcomes_total",
            "Persona rewrites by outcome: rewritten (passed its checks, sent) or kept_plain "
            "(failed one; the checked plain draft was sent).",
            ["outcome"],
            registry=r,
        )
        # Every series exists from the start, so dashboards show 0 rather than "no data".
        for reason in DEAD_LETTER_REASONS:
            self.dead_letters.labels(reason)
        for reason in SKIP_REASONS:
            self.skipped.labels(reason)
        for reason in (*CHECKS, "empty", "engine_request", "steering", "language",
                       "no_request", "answer_removed", "no_answer", "off_request",
                       "unfamiliar_wording", "request_disputed", "request_inferred"):
            self.review_reasons.labels(reason)
        for outcome in DRAFT_OUTCOMES:
            self.draft_outcomes.labels(outcome)
        for request in (*topic.LABELS, topic.UNCLEAR):
            self.requests.labels(request)
        for check in (*CHECKS, "empty"):
            self.draft_check_failures.labels(check)
        for outcome in PERSONA_OUTCOMES:
            self.persona_outcomes.labels(outcome)
        # The standard collectors the default registry would have (this one is replyd's own):
        # process_* (Linux /proc), python_gc_* (the daemon tunes the collector: gc_tuning.py,
        # so its collections per generation are worth watching) and python_info.
        ProcessCollector(registry=r)
        GCCollector(registry=r)
        PlatformCollector(registry=r)
        self.build_info = Info(
            "replyd_build", "Version, engine and base model of this process.", registry=r
        )
        self.build_info.info({"version": __version__, "engine": "", "base_model": ""})
        # Which adapter each task runs on now: it moves without a restart (adapters_reload_s).
        self.adapter_info = Gauge(
            "replyd_adapter_info", "1 for the adapter each task runs on ('base': none).",
            ["task", "adapter"], registry=r,
        )

        # Shadow mode (shadow.py): a candidate adapter next to the live one on sampled emails.
        self.shadow_agreement = Counter(
            "replyd_shadow_agreement_total",
            "Shadowed emails by task, candidate adapter and whether its output agreed with the "
            "live one (agreed true or false; entities: the same values in every field).",
            ["task", "candidate", "agreed"], registry=r,
        )
        self.shadow_entities_f1 = Histogram(
            "replyd_shadow_entities_f1",
            "Micro-F1 of the candidate's entities against the live ones, per shadowed email.",
            ["candidate"], buckets=F1_BUCKETS, registry=r,
        )
        self.shadow_errors = Counter(
            "replyd_shadow_errors_total",
            "Shadowed emails whose candidate run failed (engine error); drafts are unaffected.",
            registry=r,
        )
        self.shadow_dropped = Counter(
            "replyd_shadow_dropped_total",
            "Sampled emails not shadowed because a shadow batch was still running.", registry=r,
        )

    def watch_shadow(self, candidates: Mapping[str, str]) -> None:
        """Create the shadow series of the configured candidates, so they show 0 from the start."""
        for task, candidate in candidates.items():
            # A joint analysis candidate is counted as the two tasks it answers.
            for counted in ("sentiment", "entities") if task == "analysis" else (task,):
                for agreed in ("true", "false"):
                    self.shadow_agreement.labels(counted, candidate, agreed)
                if counted == "entities":
                    self.shadow_entities_f1.labels(candidate)

    def count_outputs(self, kinds: Mapping[str, int]) -> None:
        """Acknowledged outputs of a batch by kind: "draft", "skipped:<reason>" or a
        dead-letter reason."""
        for kind, count in kinds.items():
            if kind == "draft":
                self.drafts_published.inc(count)
            elif kind.startswith("skipped:"):
                self.skipped.labels(kind.removeprefix("skipped:")).inc(count)
            else:
                self.dead_letters.labels(kind).inc(count)

    def watch_engine(self, healthy: Callable[[], bool]) -> None:
        """``replyd_engine_up`` reads the engine's health at every scrape."""
        self.engine_up.set_function(lambda: 1.0 if healthy() else 0.0)

    def watch_queue_depth(self, depth: Callable[[], int]) -> None:
        """``replyd_engine_queue_depth`` reads the engine's queue depth at every scrape."""
        self.engine_queue_depth.set_function(lambda: float(depth()))

    def observe_engine_call(
        self, requests: Sequence[GenerateRequest], results: Sequence[GenerateResult]
    ) -> None:
        """One completed engine call: its size, and the timing of each request that has one."""
        if not requests:
            return
        self.engine_batch_size.observe(len(requests))
        # Grouped by adapter: one label lookup and one update per bucket per call, not per request.
        queue: defaultdict[str, list[float]] = defaultdict(list)
        ttft: defaultdict[str, list[float]] = defaultdict(list)
        total: defaultdict[str, list[float]] = defaultdict(list)
        for request, result in zip(requests, results, strict=True):
            timing = result.timing
            if timing is None:
                continue
            adapter = request.adapter or "base"
            if timing.queue_s is not None:
                queue[adapter].append(timing.queue_s)
            if timing.ttft_s is not None:
                ttft[adapter].append(timing.ttft_s)
            total[adapter].append(timing.total_s)
        for histogram, by_adapter in (
            (self.engine_queue, queue), (self.engine_ttft, ttft), (self.engine_generation, total)
        ):
            for adapter, values in by_adapter.items():
                observe_many(histogram.labels(adapter), values)

    def record_batch(self, result: BatchResult, config: PipelineConfig, emails: int) -> None:
        """What one pipeline run cost and how its drafts ended: stage times, tokens and
        requests per adapter, draft outcomes and failed checks."""
        for stage, seconds in result.stage_seconds.items():
            for name in stage.split("+"):
                self.stage_latency.labels(name).observe(seconds)
        for task, usage in result.usage_by_task.items():
            adapter = config.adapter(task) or "base"
            self.inference_tokens.labels(adapter, "prompt").inc(usage.prompt_tokens)
            self.inference_tokens.labels(adapter, "completion").inc(usage.completion_tokens)
        # Joint analysis: one request per email on the analysis adapter for both analysis tasks.
        joint = config.analysis == "joint"
        requested = (["analysis"] if joint else []) + [
            task for task in config.tasks if not (joint and task in ("sentiment", "entities"))]
        # The second readers (handlers.second_reads): one request per email where there is one.
        requested += [task for task in second_reads.READERS if config.adapter(task)]
        for task in requested:
            self.adapter_requests.labels(config.adapter(task) or "base").inc(emails)
        for outcome, count in result.draft_outcomes.items():
            if count:
                self.draft_outcomes.labels(outcome).inc(count)
        for check, count in result.check_failures.items():
            self.draft_check_failures.labels(check).inc(count)
        for outcome, count in result.persona_outcomes.items():
            self.persona_outcomes.labels(outcome).inc(count)
        reasons = Tally(reason for outcome in result.outcomes if isinstance(outcome, DraftText)
                        for reason in outcome.review_reasons)
        for reason, count in reasons.items():
            self.review_reasons.labels(reason).inc(count)
        requests = Tally(outcome.request for outcome in result.outcomes
                         if isinstance(outcome, DraftText) and outcome.request)
        for request, count in requests.items():
            self.requests.labels(request).inc(count)

    def set_adapters(self, config: PipelineConfig) -> None:
        """``replyd_adapter_info``: one series per task of ``config``; the previous ones go."""
        self.adapter_info.clear()
        for task in config.tasks:
            self.adapter_info.labels(task, config.adapter(task) or "base").set(1)

    def set_build(self, engine: str, base_model: str) -> None:
        self.build_info.info({"version": __version__, "engine": engine, "base_model": base_model})


def observe_many(histogram: Histogram, values: Iterable[float]) -> None:
    """``histogram.observe(v)`` for every value, in one update per bucket instead of one per value.

    Per-email observations are the daemon's hot path (thousands per second with a fast engine);
    ``Histogram.observe`` takes a lock and walks the buckets for each value. This reads the
    histogram's bucket bounds and counters, which prometheus_client keeps as ``_upper_bounds``,
    ``_buckets`` and ``_sum``; ``tests/daemon/service/test_metrics.py`` checks the result against
    ``observe`` value by value, and without those attributes it falls back to ``observe``.
    """
    values = list(values)
    if not values:
        return
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or any(v != v for v in values):
        # A labelled parent has no buckets (observe raises, as it should); NaN takes the
        # library's own path too.
        for value in values:
            histogram.observe(value)
        return
    total.inc(sum(values))
    first = bisect_left(bounds, min(values))
    if first == bisect_left(bounds, max(values)):  # one bucket (e.g. a batch's shared timing)
        buckets[first].inc(len(values))
        return
    for index, count in Tally(bisect_left(bounds, value) for value in values).items():
        buckets[index].inc(count)
