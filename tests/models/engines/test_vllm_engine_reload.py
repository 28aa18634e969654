"""The in-process vLLM engine follows a changed default adapter without a restart
(``ReloadableVllmEngine`` + the daemon's adapter reloader): the reloader's loading path on a
fake engine, and the real engine on the default model (``vllm`` marker)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from daemon.service.adapters_reload import AdapterReloader
from daemon.service.build import build_engine, build_pipeline_config
from daemon.settings import Settings
from handlers.pipeline import Pipeline
from models.customize.registry import Registry
from models.engines.base import AdapterInfo
from models.engines.echo import EchoEngine
from models.errors import AdapterError
from tests.models.engines.engine_helpers import ask
from tests.registry_copies import copy_adapter, settings_without_env, shipped

DEFAULTS = Registry().defaults()
LIVE_S, LIVE_E = DEFAULTS["sentiment"], DEFAULTS["entities"]
COPIES = [f"entities-lora-20261202t000{i}-c0ffee" for i in range(2)]  # LIVE_E under new IDs


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """The shipped adapters, defaults naming sentiment only, and two copies of entities."""
    root = shipped(tmp_path)
    (root / "defaults.json").write_text(json.dumps({"sentiment": LIVE_S}))
    for new in COPIES:
        copy_adapter(root, LIVE_E, new)
    return Registry(root)


def settings_for(registry: Registry, monkeypatch: pytest.MonkeyPatch, **values: object
                 ) -> Settings:
    return settings_without_env(monkeypatch, **{"registry_dir": registry.root,
                                                "adapters_reload_s": 1, **values})


class Loading(EchoEngine):
    """An in-process engine that loads adapters while running, refusing the IDs in ``refuse``."""

    def __init__(self, adapters: dict[str, AdapterInfo], refuse: Sequence[str] = ()) -> None:
        super().__init__(adapters)
        self.refuse = set(refuse)
        self.loads: list[str] = []

    async def load_adapter(self, info: AdapterInfo) -> bool:
        self.loads.append(info.customization_id)
        if info.customization_id in self.refuse:
            raise AdapterError("no spare LoRA slot")
        self._adapters[info.customization_id] = info
        return True


async def test_the_reloader_loads_into_an_in_process_engine_then_switches(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_for(registry, monkeypatch, engine="echo")
    engine = Loading({LIVE_S: registry.adapter_info(LIVE_S)}, refuse=[COPIES[0]])
    async with engine:
        pipeline = Pipeline(engine, build_pipeline_config(settings))
        reloader = AdapterReloader(settings, engine, pipeline)
        assert reloader.enabled and await reloader.check() == {}
        registry.set_default("entities", COPIES[0])  # refused: stays on the base model
        with caplog.at_level(logging.WARNING):
            assert await reloader.check() == {}
        assert "not loaded: no spare LoRA slot" in caplog.text
        assert pipeline.config.adapter("entities") is None
        registry.set_default("entities", LIVE_E)
        assert await reloader.check() == {"entities": (None, LIVE_E)}
        assert engine.loads == [COPIES[0], LIVE_E] and LIVE_E in engine.adapters()
        await pipeline.run([])  # the next batch runs on it (nothing to refuse)


@pytest.mark.vllm
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
async def test_the_in_process_vllm_engine_follows_a_new_default(
    registry: Registry, model_cache_dir: Path, model_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from models.engines.vllm_engine_reload import SPARE_SLOTS, ReloadableVllmEngine

    settings = settings_for(registry, monkeypatch, engine="vllm", dtype="float32",
                            model_cache_dir=model_cache_dir, max_model_len=1024,
                            vllm_kv_cache_gib=1, engine_max_num_seqs=8)
    engine = build_engine(settings)
    assert isinstance(engine, ReloadableVllmEngine) and set(engine.adapters()) == {LIVE_S}
    async with engine:
        pipeline = Pipeline(engine, build_pipeline_config(settings))
        reloader = AdapterReloader(settings, engine, pipeline)
        base_alone = await engine.generate([ask("List three fruits.")])
        registry.set_default("entities", LIVE_E)
        assert await reloader.check() == {"entities": (None, LIVE_E)}
        assert pipeline.config.adapter("entities") == LIVE_E
        mixed = await engine.generate([
            ask("List three fruits."), ask("Hi, I am Dana Ross from Leeds.", adapter=LIVE_E),
            ask("I love it", adapter=LIVE_S)])
        # The base row is untouched by the adapters around it (a LoRA slot stays free).
        assert mixed[0].text == base_alone[0].text
        assert mixed[1].completion_tokens >= 1
        # Loads take spare slots for good: the second copy finds none left.
        assert SPARE_SLOTS == 2
        assert await engine.load_adapter(registry.adapter_info(COPIES[0]))
        assert not await engine.load_adapter(registry.adapter_info(COPIES[0]))  # loaded already
        with pytest.raises(AdapterError, match="no spare LoRA slot"):
            await engine.load_adapter(registry.adapter_info(COPIES[1]))
