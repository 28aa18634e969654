"""The check_wording setting: "cut" for a reply adapter trained on the generator's replies."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.service.build import build_pipeline_config, check_wording
from models.customize.registry import Registry
from tests.registry_copies import copy_adapter, settings_without_env, shipped

DEFAULTS = Registry().defaults()
OTHER = "reply-lora-20261202t0000-0ther1"  # the shipped weights, trained (says it) on other data


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    root = shipped(tmp_path)
    manifest = Registry(root).get(DEFAULTS["reply"])
    data = {**manifest.data, "generator": None, "file": "support-tickets.jsonl"}
    copy_adapter(root, DEFAULTS["reply"], OTHER, data=data)
    return Registry(root)


def test_auto_cuts_for_the_shipped_reply_adapter_and_is_off_for_others(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_without_env(monkeypatch, engine="echo", registry_dir=registry.root)
    assert settings.check_wording == "auto"
    assert build_pipeline_config(settings).check_wording == "cut"
    assert check_wording(settings, OTHER) == "off"
    assert check_wording(settings, None) == "off"  # the base model, or a remote writer
    remote = settings_without_env(monkeypatch, engine="echo", registry_dir=registry.root,
                                  reply_engine_url="http://127.0.0.1:8000/v1")
    assert build_pipeline_config(remote).check_wording == "off"


def test_cut_flag_and_off_are_taken_as_they_are_and_on_is_flag(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    on = settings_without_env(monkeypatch, engine="echo", registry_dir=registry.root,
                              check_wording="on")
    assert check_wording(on, OTHER) == "flag" and check_wording(on, None) == "flag"
    for mode in ("cut", "flag"):
        chosen = settings_without_env(monkeypatch, engine="echo", registry_dir=registry.root,
                                      check_wording=mode)
        assert check_wording(chosen, OTHER) == mode and check_wording(chosen, None) == mode
    off = settings_without_env(monkeypatch, engine="echo", registry_dir=registry.root,
                               check_wording="off")
    assert build_pipeline_config(off).check_wording == "off"
