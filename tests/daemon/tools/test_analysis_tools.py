"""`replyd synth/train/eval --task analysis`: rows, training targets, scores, the eval report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cli import build_parser
from daemon.tools import analysis_eval
from daemon.tools.customize import render_row, score
from handlers import analysis
from handlers.types import EmailText
from models.engines.base import GenerateResult
from models.errors import ConfigurationError
from models.synth.datasets import write_dataset
from models.synth.emails import analysis_examples
from tests.conftest import REPO


def result(text: str) -> GenerateResult:
    return GenerateResult(text=text, finish_reason="stop", prompt_tokens=1, completion_tokens=1)


def test_rows_render_with_the_analysis_prompt_and_answer() -> None:
    row = analysis_examples(1, 0)[0]
    messages, completion = render_row("analysis", row)
    assert messages == analysis.messages(EmailText("train", "", row["text"]))
    assert completion == analysis.answer(row["label"], row["entities"])
    assert completion.startswith(f"{row['label']}|name:")
    with pytest.raises(ValueError, match="sentiment"):
        render_row("analysis", {**row, "label": "angry"})


def test_score_counts_each_figure_over_the_rows_labelled_for_it() -> None:
    rows = [
        {"text": "Hi, Ana Lima here about my Zeta phone in Porto.", "label": "negative",
         "entities": {"name": ["Ana Lima"], "product": ["Zeta phone"], "location": ["Porto"]}},
        {"text": "Great blender.", "label": "positive"},  # a sentiment-only row
        {"text": "met Bo in Oslo",
         "entities": {"name": ["Bo"], "product": [], "location": ["Oslo"]}},
    ]
    outputs = [
        result(analysis.answer("negative", {"name": ["Ana Lima"], "product": ["Lisbon"],
                                            "location": ["Porto"]})),
        result(analysis.answer("neutral", {})),
        result("{broken"),
    ]
    figures = score("analysis", rows, outputs)
    assert figures["accuracy"] == 0.5 and figures["accuracy_examples"] == 2
    # Rows 1 and 3 have entities: 2 found of 5 ("Lisbon" is no span: dropped), row 3 unusable.
    assert figures["precision"] == 1.0 and figures["recall"] == 0.4
    assert figures["f1_examples"] == 2 and figures["parse_failures"] == 1
    assert figures["exact_match"] == 0.0


def test_check_row_needs_some_label() -> None:
    assert analysis_eval.check_row({"text": "x", "label": "positive"}) is None
    assert analysis_eval.check_row({"text": "x", "entities": {}}) is None
    assert "needs" in (analysis_eval.check_row({"text": "x"}) or "")
    assert "label" in (analysis_eval.check_row({"text": "x", "label": "angry"}) or "")
    assert "missing" in (analysis_eval.check_row({"label": "positive"}) or "")


def run(*argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    return args.func(args)


def test_synth_and_train_accept_the_task(tmp_path: Path) -> None:
    data = tmp_path / "a.jsonl"
    assert run("synth", "--task", "analysis", "--emails", "4", "--out", str(data)) == 0
    assert len(data.read_text().splitlines()) == 4
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"text": "fine", "label": "positive"}\n', "utf-8")
    with pytest.raises(ConfigurationError, match="row 1 is not a valid analysis row"):
        run("train", "--task", "analysis", "--data", str(wrong))


def eval_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--plain-logs", "eval", *args],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )


def test_eval_reports_both_halves_on_the_split_tasks_files(tmp_path: Path) -> None:
    for task in ("sentiment", "entities", "analysis"):
        data = tmp_path / f"{task}.jsonl"
        write_dataset(task, 6, 3, "eval", data)  # type: ignore[arg-type]
        out = eval_cli("--task", "analysis", "--data", str(data), "--engine", "echo",
                       "--zero-shot")
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout.strip().splitlines()[-1])
        assert report["task"] == "analysis" and report["n"] == 6
        assert ("accuracy" in report) == (task != "entities")
        assert ("f1" in report) == (task != "sentiment")
        # The echo engine answers the schema's smallest instance: "positive", nothing found.
        assert report["parse_failures"] == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi"}\n')
    out = eval_cli("--task", "analysis", "--data", str(bad), "--engine", "echo")
    assert out.returncode == 2 and "needs a 'label', 'entities' or both" in out.stderr
