"""The analysis setting: which adapters a joint first stage resolves, and the config it builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daemon.service.build import analysis_mode, build_pipeline_config, task_adapters
from daemon.settings import Settings
from models.customize.registry import Registry
from models.errors import ConfigurationError
from tests.registry_copies import copy_adapter, settings_without_env, shipped

DEFAULTS = Registry().defaults()
JOINT = "analysis-lora-20261202t0000-c0ffee"  # a copy of the entities adapter, relabelled


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    root = shipped(tmp_path)
    copy_adapter(root, DEFAULTS["entities"], JOINT, task="analysis")
    defaults = {k: v for k, v in DEFAULTS.items() if k != "analysis"}
    (root / "defaults.json").write_text(json.dumps(defaults))
    return Registry(root)


def settings_for(registry: Registry, monkeypatch: pytest.MonkeyPatch, **values: object
                 ) -> Settings:
    return settings_without_env(monkeypatch, **{"engine": "echo", "registry_dir": registry.root,
                                                **values})


def test_auto_is_split_without_an_analysis_adapter_and_resolves_the_two_adapters(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(registry, monkeypatch)
    assert settings.analysis == "auto" and analysis_mode(settings) == "split"
    chosen = task_adapters(settings)
    assert chosen["sentiment"] == DEFAULTS["sentiment"] and "analysis" not in chosen
    assert build_pipeline_config(settings).analysis == "split"


def test_auto_is_joint_where_an_analysis_adapter_is_at_hand(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.set_default("analysis", JOINT)
    settings = settings_for(registry, monkeypatch)
    assert analysis_mode(settings) == "joint"
    assert task_adapters(settings)["sentiment"] == JOINT
    assert build_pipeline_config(settings).analysis == "joint"
    # Never the base model by default: split adapters named without an analysis one, or no
    # entities stage, keep the split stage; an explicit setting is taken as it is.
    named = {task: DEFAULTS[task] for task in ("sentiment", "entities", "reply")}
    assert analysis_mode(settings_for(registry, monkeypatch, adapters=named)) == "split"
    assert analysis_mode(settings_for(registry, monkeypatch, adapters={**named, "analysis": JOINT})
                         ) == "joint"
    assert analysis_mode(settings_for(registry, monkeypatch, tasks=("sentiment", "reply"))
                         ) == "split"
    assert analysis_mode(settings_for(registry, monkeypatch, analysis="split")) == "split"


def test_the_shipped_registry_runs_joint_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_without_env(monkeypatch, engine="echo")
    assert analysis_mode(settings) == "joint"
    chosen = task_adapters(settings)
    assert chosen["sentiment"] == chosen["entities"] == chosen["analysis"] == DEFAULTS["analysis"]


def test_joint_resolves_the_analysis_default_for_both_tasks(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.set_default("analysis", JOINT)
    settings = settings_for(registry, monkeypatch, analysis="joint")
    chosen = task_adapters(settings)
    # Drafts and metrics name the adapter that produced sentiment and entities.
    assert chosen["analysis"] == chosen["sentiment"] == chosen["entities"] == JOINT
    assert chosen["reply"] == DEFAULTS["reply"]
    config = build_pipeline_config(settings)
    assert config.analysis == "joint" and config.adapter("analysis") == JOINT


def test_joint_without_an_analysis_adapter_fails_at_start(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match="no default for task 'analysis'"):
        task_adapters(settings_for(registry, monkeypatch, analysis="joint"))
    wrong = {"analysis": DEFAULTS["sentiment"]}
    with pytest.raises(ConfigurationError, match="is a sentiment adapter"):
        task_adapters(settings_for(registry, monkeypatch, analysis="joint", adapters=wrong))
    # Adapters named explicitly without one: the base model answers, as for any unnamed task.
    chosen = task_adapters(settings_for(registry, monkeypatch, analysis="joint",
                                        adapters={"reply": DEFAULTS["reply"]}))
    assert chosen == {"reply": DEFAULTS["reply"]}


def test_the_setting_takes_only_split_or_joint(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="analysis"):
        settings_for(registry, monkeypatch, analysis="both")
    # "analysis" is no stage: the settings refuse it as one (the pipeline config would too).
    with pytest.raises(ValueError, match="tasks"):
        settings_for(registry, monkeypatch, tasks=("sentiment", "analysis", "reply"))


def test_the_request_adapter_reads_beside_the_analysis_unless_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    on = settings_without_env(monkeypatch, engine="echo")
    assert task_adapters(on)["topic"] == DEFAULTS["topic"]
    assert build_pipeline_config(on).adapter("topic") == DEFAULTS["topic"]
    off = settings_without_env(monkeypatch, engine="echo", request_adapter=False)
    assert "topic" not in task_adapters(off)
    assert build_pipeline_config(off).adapter("topic") is None
