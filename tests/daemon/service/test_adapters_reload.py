"""The daemon follows a changed default adapter without a restart (``adapters_reload_s``),
against fake vLLM servers on 127.0.0.1 and the real openai engine."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from daemon.service.adapters_reload import AdapterReloader
from daemon.service.build import build_pipeline_config
from daemon.service.metrics import Metrics
from daemon.settings import Settings
from handlers.pipeline import Pipeline
from handlers.types import EmailText
from models.customize.registry import Registry
from models.engines.base import GenerateRequest, Message, SamplingParams
from models.engines.echo import EchoEngine
from models.engines.openai_engine import OpenAIEngine
from tests.daemon.tools.test_adapters_push import BASE, FakeVllm
from tests.registry_copies import copy_adapter, settings_without_env, shipped

OLD = Registry().defaults()["sentiment"]
NEW = "sentiment-lora-20261201t2130-abc123"  # a copy of OLD under a new ID


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """The shipped registry plus NEW, a second sentiment adapter."""
    root = shipped(tmp_path)
    copy_adapter(root, OLD, NEW)
    return Registry(root)


@pytest.fixture
def fake(registry: Registry) -> Iterator[FakeVllm]:
    server = FakeVllm().start()
    server.loras.update({cid: str(registry.path(cid)) for cid in registry.defaults().values()})
    yield server
    server.close()


def settings_for(registry: Registry, fake: FakeVllm, monkeypatch: pytest.MonkeyPatch,
                 **values: object) -> Settings:
    # The split first stage: these tests follow the sentiment and entities defaults.
    given: dict[str, object] = {"engine": "openai", "engine_url": fake.url, "analysis": "split",
                                "registry_dir": registry.root, "adapters_reload_s": 0.05}
    return settings_without_env(monkeypatch, **{**given, **values})


@pytest.fixture
async def engine(registry: Registry, fake: FakeVllm) -> AsyncIterator[OpenAIEngine]:
    adapters = {cid: registry.adapter_info(cid) for cid in registry.defaults().values()}
    running = OpenAIEngine([fake.url], BASE, adapters, max_retries=0)
    async with running:
        yield running


def _request(adapter: str) -> GenerateRequest:
    return GenerateRequest(messages=(Message("user", "Hi"),),
                           sampling=SamplingParams(max_tokens=1), adapter=adapter)


async def test_a_changed_default_switches_once_every_server_serves_it(
    registry: Registry, fake: FakeVllm, engine: OpenAIEngine,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_for(registry, fake, monkeypatch)
    pipeline = Pipeline(engine, build_pipeline_config(settings))
    reloader = AdapterReloader(settings, engine, pipeline)
    assert reloader.enabled
    assert await reloader.check() == {}  # nothing changed

    registry.set_default("sentiment", NEW)
    caplog.set_level(logging.INFO, logger="daemon.service.adapters_reload")
    assert await reloader.check() == {}  # not pushed yet: stays on OLD, says why once
    assert await reloader.check() == {}
    assert pipeline.config.adapter("sentiment") == OLD
    assert sum("not served by every server" in r.message for r in caplog.records) == 1
    with pytest.raises(Exception, match="not loaded"):
        await engine.generate([_request(NEW)])

    fake.loras[NEW] = str(registry.path(NEW))  # what `replyd adapters push` does
    assert await reloader.check() == {"sentiment": (OLD, NEW)}
    assert pipeline.config.adapter("sentiment") == NEW
    assert pipeline.config.adapter("entities") == registry.defaults()["entities"]
    assert any(f"sentiment {OLD} → {NEW}" in r.message for r in caplog.records)
    result = await engine.generate([_request(NEW)])
    assert result[0].text == "x" and fake.completions[-1] == NEW


async def test_the_loop_follows_the_defaults_in_the_background(
    registry: Registry, fake: FakeVllm, engine: OpenAIEngine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for(registry, fake, monkeypatch)
    pipeline = Pipeline(engine, build_pipeline_config(settings))
    fake.loras[NEW] = str(registry.path(NEW))
    metrics = Metrics()

    def shown(task: str, adapter: str) -> float | None:
        return metrics.registry.get_sample_value("replyd_adapter_info",
                                                 {"task": task, "adapter": adapter})

    async with AdapterReloader(settings, engine, pipeline, metrics):
        assert shown("sentiment", OLD) == 1 and shown("reply", "base") is None
        registry.set_default("sentiment", NEW)
        for _ in range(100):
            if pipeline.config.adapter("sentiment") == NEW:
                break
            await asyncio.sleep(0.02)
    assert pipeline.config.adapter("sentiment") == NEW
    assert shown("sentiment", NEW) == 1 and shown("sentiment", OLD) is None
    assert shown("entities", registry.defaults()["entities"]) == 1
    # After the context, the loop is gone: a further change is not followed.
    registry.set_default("sentiment", OLD)
    await asyncio.sleep(0.2)
    assert pipeline.config.adapter("sentiment") == NEW


async def test_an_unreachable_fleet_or_a_broken_registry_keeps_the_adapters(
    registry: Registry, fake: FakeVllm, engine: OpenAIEngine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for(registry, fake, monkeypatch)
    pipeline = Pipeline(engine, build_pipeline_config(settings))
    reloader = AdapterReloader(settings, engine, pipeline)
    (registry.root / "defaults.json").write_text('{"sentiment": "no-such-adapter"}')
    assert await reloader.check() == {}
    registry.set_default("sentiment", NEW)
    fake.close()  # the servers cannot say whether they serve NEW
    assert await reloader.check() == {}
    assert pipeline.config.adapter("sentiment") == OLD


async def test_off_unless_openai_reload_and_defaults(
    registry: Registry, fake: FakeVllm, engine: OpenAIEngine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for(registry, fake, monkeypatch)
    config = build_pipeline_config(settings)
    echo = EchoEngine({})
    assert not AdapterReloader(settings, echo, Pipeline(echo, config)).enabled
    pinned = settings_for(registry, fake, monkeypatch, adapters={"sentiment": OLD})
    assert not AdapterReloader(pinned, engine, Pipeline(engine, config)).enabled
    off = settings_for(registry, fake, monkeypatch, adapters_reload_s=0)
    assert not AdapterReloader(off, engine, Pipeline(engine, config)).enabled


OLD_ANALYSIS = Registry().defaults()["analysis"]
NEW_ANALYSIS = "analysis-lora-20261202t1500-abc123"  # a copy of OLD_ANALYSIS under a new ID


async def test_the_joint_first_stage_follows_a_changed_analysis_default(
    registry: Registry, fake: FakeVllm, engine: OpenAIEngine,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Under the default first stage (auto, joint with the shipped registry) the request goes
    to the "analysis" adapter, which is no task of its own: a new default must reach it, not
    only the sentiment and entities labels."""
    copy_adapter(registry.root, OLD_ANALYSIS, NEW_ANALYSIS)
    settings = settings_for(registry, fake, monkeypatch, analysis="auto")
    pipeline = Pipeline(engine, build_pipeline_config(settings))
    assert pipeline.config.analysis == "joint"
    reloader = AdapterReloader(settings, engine, pipeline)
    registry.set_default("analysis", NEW_ANALYSIS)
    assert await reloader.check() == {}  # not served yet
    assert pipeline.config.adapter("analysis") == OLD_ANALYSIS

    fake.loras[NEW_ANALYSIS] = str(registry.path(NEW_ANALYSIS))
    switched = await reloader.check()
    assert switched == {task: (OLD_ANALYSIS, NEW_ANALYSIS)
                        for task in ("analysis", "sentiment", "entities")}
    assert pipeline.config.adapter("analysis") == NEW_ANALYSIS
    # The first stage's request names the new adapter.
    emails = [EmailText("m-1", "Broken kettle", "Hi, my Juniper kettle broke. Dana")]
    await pipeline.run(emails)
    assert NEW_ANALYSIS in fake.completions


async def test_a_first_stage_the_defaults_no_longer_give_is_kept_and_said_once(
    registry: Registry, fake: FakeVllm, engine: OpenAIEngine,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_for(registry, fake, monkeypatch, analysis="auto")
    pipeline = Pipeline(engine, build_pipeline_config(settings))
    reloader = AdapterReloader(settings, engine, pipeline)
    defaults = registry.defaults()
    del defaults["analysis"]  # auto would now choose the split stage
    (registry.root / "defaults.json").write_text(json.dumps(defaults))
    caplog.set_level(logging.WARNING, logger="daemon.service.adapters_reload")
    for _ in range(3):
        await reloader.check()
    # The joint stage keeps its adapter rather than asking the base model.
    assert pipeline.config.analysis == "joint"
    assert pipeline.config.adapter("analysis") == OLD_ANALYSIS
    assert pipeline.config.adapter("sentiment") == OLD_ANALYSIS
    assert sum("until it restarts" in r.message for r in caplog.records) == 1
