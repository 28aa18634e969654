"""The whole path with the real engine: embedded broker, synthetic emails, vLLM on the default
model, drafts out. This is what `make demo` runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daemon.contracts import Draft
from daemon.settings import Settings
from daemon.tools.demo import render_table, run_demo

pytestmark = pytest.mark.vllm


async def test_demo_drafts_every_email_with_vllm(tmp_path: Path, model_cache_dir: Path) -> None:
    settings = Settings(engine="vllm", model_cache_dir=model_cache_dir, metrics_port=0)
    summary = await run_demo(settings, n=6, seed=11, out_dir=tmp_path)
    assert summary.line().startswith("demo: 6 emails in, 6 drafts out, 0 dead letters; usable ")
    # Marked drafts are counted as marked, with their reasons (most need no fallback).
    marked = [d for d in summary.drafts if d.review_reasons]
    assert f", {len(marked)} marked needs_review" in summary.line()
    assert all(reason in summary.line() for d in marked for reason in d.review_reasons)
    lines = (tmp_path / "drafts.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6
    for line in lines:
        draft = Draft.model_validate_json(line)
        assert draft.sentiment in ("positive", "negative", "neutral")
        assert set(json.loads(line)["entities"]) == {"name", "product", "location"}
        assert draft.body.strip()
        assert draft.base_model == "SmolLM2-135M-Instruct"
        assert draft.tokens.prompt > 0 and draft.tokens.completion > 0
        # As a support agent reads it: the company's voice, no prompt text; a draft that failed
        # its checks is the fallback and says so.
        assert "</email>" not in draft.body and "Customer name:" not in draft.body
        assert draft.body.rstrip().endswith("support team")
        assert draft.needs_review or not draft.review_reasons
        assert {"analysis", "reply"} <= set(draft.timings_ms)  # the joint first stage
    assert "sentiment" in render_table(summary)
