"""The metrics catalogue: names, types and label sets are an interface SREs build on."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from daemon.service.metrics import LATENCY_BUCKETS, Metrics, observe_many
from models.engines.base import GenerateRequest, GenerateResult, RequestTiming

EXPECTED = {
    "replyd_emails_consumed": ("counter", set()),
    "replyd_drafts_published": ("counter", set()),
    "replyd_dead_letters": ("counter", {"reason"}),
    "replyd_batch_size": ("histogram", set()),
    "replyd_stage_latency_seconds": ("histogram", {"stage"}),
    "replyd_email_latency_seconds": ("histogram", set()),
    "replyd_inflight_emails": ("gauge", set()),
    "replyd_consumer_lag": ("gauge", {"topic", "partition"}),
    "replyd_inference_tokens": ("counter", {"adapter", "kind"}),
    "replyd_adapter_requests": ("counter", {"adapter"}),
    "replyd_engine_up": ("gauge", set()),
    "replyd_engine_batch_size": ("histogram", set()),
    "replyd_engine_queue_depth": ("gauge", set()),
    "replyd_engine_queue_seconds": ("histogram", {"adapter"}),
    "replyd_engine_time_to_first_token_seconds": ("histogram", {"adapter"}),
    "replyd_engine_generation_seconds": ("histogram", {"adapter"}),
    "replyd_build": ("info", {"version", "engine", "base_model"}),
    "replyd_adapter_info": ("gauge", {"task", "adapter"}),
    "replyd_last_commit_timestamp_seconds": ("gauge", set()),
    "replyd_rebalances": ("counter", set()),
    "replyd_abandoned_emails": ("counter", set()),
    "replyd_publish_retries": ("counter", set()),
    "replyd_emails_with_unknown_fields": ("counter", set()),
    "replyd_draft_outcomes": ("counter", {"outcome"}),
    "replyd_persona_outcomes": ("counter", {"outcome"}),
    "replyd_draft_check_failures": ("counter", {"check"}),
    "replyd_emails_skipped": ("counter", {"reason"}),
    "replyd_drafts_needing_review": ("counter", {"reason"}),
    "replyd_drafts_by_request": ("counter", {"request"}),
    "replyd_shadow_agreement": ("counter", {"task", "candidate", "agreed"}),
    "replyd_shadow_entities_f1": ("histogram", {"candidate"}),
    "replyd_shadow_errors": ("counter", set()),
    "replyd_shadow_dropped": ("counter", set()),
}
# Labels whose values could come from email content or ids are never allowed.
FORBIDDEN_LABELS = {"message_id", "email", "from", "to", "subject", "customer", "name", "address"}


def test_catalogue_names_types_and_labels() -> None:
    metrics = Metrics()
    metrics.dead_letters.labels("schema").inc()
    metrics.stage_latency.labels("reply").observe(0.1)
    metrics.consumer_lag.labels("t", "0").set(3)
    metrics.inference_tokens.labels("base", "prompt").inc(5)
    metrics.adapter_requests.labels("base").inc()
    metrics.adapter_info.labels("sentiment", "base").set(1)
    metrics.watch_shadow({"entities": "acme"})
    metrics.observe_engine_call(
        [GenerateRequest(prompt="hi"), GenerateRequest(prompt="hi", adapter="acme")],
        [GenerateResult("a", "stop", 1, 1, RequestTiming(0.01, 0.1, 0.2))] * 2,
    )
    families = {
        family.name: family
        for family in metrics.registry.collect()
        if family.name.startswith("replyd_")
    }
    assert set(families) == set(EXPECTED)
    for name, (kind, labels) in EXPECTED.items():
        family = families[name]
        assert family.type == kind, name
        seen = set().union(*(set(s.labels) for s in family.samples)) - {"le"}
        assert seen == labels, (name, seen)
        assert not seen & FORBIDDEN_LABELS
        assert family.documentation, f"{name} has no help text"


def test_naming_rules() -> None:
    metrics = Metrics()
    metrics.dead_letters.labels("schema").inc()
    metrics.inference_tokens.labels("base", "prompt").inc(5)
    metrics.adapter_requests.labels("base").inc()
    metrics.watch_shadow({"sentiment": "acme"})
    metrics.observe_engine_call(
        [GenerateRequest(prompt="hi")], [GenerateResult("a", "stop", 1, 1, RequestTiming(0, 0, 0))]
    )
    text = generate_latest(metrics.registry).decode()
    kinds = {}
    for line in text.splitlines():
        if line.startswith("# TYPE replyd_"):
            _, _, name, kind = line.split()
            kinds[name.removesuffix("_total")] = kind
            assert ":" not in name
    samples = {line.split("{")[0].split()[0] for line in text.splitlines()
               if line.startswith("replyd_")}
    for name, kind in kinds.items():
        if kind == "counter":
            assert f"{name}_total" in samples, name
            assert not {s for s in samples if s.startswith(name) and s != f"{name}_total"
                        and not s.startswith(f"{name}_created")}, name
        if "latency" in name or "timestamp" in name:
            assert name.endswith("_seconds"), name
    assert "replyd_build_info" in samples


def test_observe_many_equals_observe_value_by_value() -> None:
    # Bounds themselves, values between them, above the last finite bound, zero, negative.
    values = [0.0, -1.0, 0.005, 0.0051, 0.3, 1, 1.0000001, 299.9, 300, 301, 1e9, 0.25, 0.25]
    one, many = CollectorRegistry(), CollectorRegistry()
    by_one = Histogram("h", "h", ["adapter"], buckets=LATENCY_BUCKETS, registry=one)
    by_many = Histogram("h", "h", ["adapter"], buckets=LATENCY_BUCKETS, registry=many)
    for value in values:
        by_one.labels("a").observe(value)
    observe_many(by_many.labels("a"), values)
    observe_many(by_many.labels("a"), [])
    same_bucket = [0.3, 0.26, 0.5, 0.3]  # all in the 0.5 bucket: the one-bucket path
    for value in same_bucket:
        by_one.labels("b").observe(value)
    observe_many(by_many.labels("b"), same_bucket)
    assert generate_latest(many) == generate_latest(one)
    assert many.get_sample_value("h_count", {"adapter": "a"}) == len(values)
    # A labelled parent has no series to update: the same error as observe.
    with pytest.raises(ValueError, match="missing label values"):
        observe_many(by_many, [1.0])


def test_closed_label_sets_are_exported_at_zero_from_the_start() -> None:
    from daemon.service.metrics import DRAFT_OUTCOMES, PERSONA_OUTCOMES, Metrics
    from models.vocabulary import DEAD_LETTER_REASONS

    text = generate_latest(Metrics().registry).decode()
    for reason in DEAD_LETTER_REASONS:
        assert f'replyd_dead_letters_total{{reason="{reason}"}} 0.0' in text
    for outcome in DRAFT_OUTCOMES:
        assert f'replyd_draft_outcomes_total{{outcome="{outcome}"}} 0.0' in text
    for outcome in PERSONA_OUTCOMES:
        assert f'replyd_persona_outcomes_total{{outcome="{outcome}"}} 0.0' in text
    for request in ("refund_status", "login_problem", "unclear"):
        assert f'replyd_drafts_by_request_total{{request="{request}"}} 0.0' in text


def test_outputs_are_counted_by_kind() -> None:
    metrics = Metrics()
    metrics.count_outputs({"draft": 3, "skipped:bounce": 2, "schema": 1})
    value = metrics.registry.get_sample_value
    assert value("replyd_drafts_published_total") == 3
    assert value("replyd_emails_skipped_total", {"reason": "bounce"}) == 2
    assert value("replyd_emails_skipped_total", {"reason": "auto_reply"}) == 0
    assert value("replyd_dead_letters_total", {"reason": "schema"}) == 1
    assert value("replyd_drafts_needing_review_total", {"reason": "language"}) == 0


def test_standard_collectors_are_on_the_daemons_registry() -> None:
    """GC, platform and process series, as the default registry would have them, but on
    replyd's own registry; and no ``*_created`` series (``disable_created_metrics``)."""
    import gc

    metrics = Metrics()
    text = generate_latest(metrics.registry).decode()
    for generation in ("0", "1", "2"):
        assert f'python_gc_collections_total{{generation="{generation}"}}' in text
        assert f'python_gc_objects_collected_total{{generation="{generation}"}}' in text
    assert "python_info{" in text
    assert "_created" not in text
    before = _gc_collections(metrics, "2")
    gc.collect()
    assert _gc_collections(metrics, "2") == before + 1, "the series follow gc.get_stats()"


def _gc_collections(metrics: Metrics, generation: str) -> float:
    value = metrics.registry.get_sample_value(
        "python_gc_collections_total", {"generation": generation})
    assert value is not None
    return value


@pytest.mark.parametrize(("analysis", "expected"), [
    ("split", {"sent-1": 5, "ent-1": 5, "reply-1": 5}),
    ("joint", {"an-1": 5, "reply-1": 5}),  # one analysis request per email, not two
    ("readers", {"sent-1": 5, "ent-1": 5, "reply-1": 5, "topic-1": 5, "steer-1": 5}),
])
def test_adapter_requests_count_what_the_pipeline_sent(
        analysis: str, expected: dict[str, int]) -> None:
    from handlers.pipeline import BatchResult, PipelineConfig

    adapters = {"sentiment": "sent-1", "entities": "ent-1", "reply": "reply-1"}
    if analysis == "joint":  # build.py: the analysis adapter answers for both analysis tasks
        adapters = {"sentiment": "an-1", "entities": "an-1", "analysis": "an-1",
                    "reply": "reply-1"}
    if analysis == "readers":  # the request and steering adapters read each email too
        adapters |= {"topic": "topic-1", "steering": "steer-1"}
    config = PipelineConfig(adapters=adapters,
                            analysis="split" if analysis == "readers" else analysis)
    metrics = Metrics()
    metrics.record_batch(BatchResult([], {}, {}), config, emails=5)
    counted = {adapter: metrics.registry.get_sample_value(
        "replyd_adapter_requests_total", {"adapter": adapter}) for adapter in expected}
    assert counted == expected


def test_drafts_are_counted_by_what_their_emails_ask_for() -> None:
    from handlers.pipeline import BatchResult, PipelineConfig
    from handlers.types import DraftText, Entities, TaskFailure, Usage

    def draft(request: str | None) -> DraftText:
        return DraftText(body="Hi.", sentiment="neutral", entities=Entities(), persona=None,
                         needs_review=False, adapters={}, usage=Usage(1, 1), request=request)

    outcomes = [draft("refund_status"), draft("refund_status"), draft("unclear"), draft(None),
                TaskFailure("engine_output", "reply", "empty")]
    metrics = Metrics()
    metrics.record_batch(BatchResult(outcomes, {}, {}), PipelineConfig(), emails=5)
    value = metrics.registry.get_sample_value
    assert value("replyd_drafts_by_request_total", {"request": "refund_status"}) == 2
    assert value("replyd_drafts_by_request_total", {"request": "unclear"}) == 1
    assert value("replyd_drafts_by_request_total", {"request": "warranty"}) == 0
