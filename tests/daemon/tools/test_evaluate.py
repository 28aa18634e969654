"""`replyd eval` end to end on the echo engine (the metric logic); real-engine agreement is
tested in tests/models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from models.synth.emails import write_dataset
from tests.conftest import REPO


def eval_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--plain-logs", "eval", *args],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )


@pytest.mark.parametrize("task", ["sentiment", "entities", "reply", "persona"])
def test_eval_prints_one_json_line_and_writes_predictions(task: str, tmp_path: Path) -> None:
    data = tmp_path / f"{task}.jsonl"
    write_dataset(task, 9, 3, "eval", data)  # type: ignore[arg-type]
    predictions = tmp_path / "predictions.jsonl"
    out = eval_cli("--task", task, "--data", str(data), "--engine", "echo", "--zero-shot",
                   "--predictions", str(predictions))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["task"] == task and report["n"] == 9 and report["mode"] == "zero-shot"
    key = {"sentiment": "accuracy", "entities": "f1", "reply": "score", "persona": "score"}[task]
    assert 0.0 <= report[key] <= 1.0
    lines = predictions.read_text().splitlines()
    assert len(lines) == 9 and all("prediction" in json.loads(line) for line in lines)
    if task == "reply":
        # The echo engine copies the prompt's first line: every draft echoes the prompt.
        assert report["usable"] == 0.0
        assert report["check_failure_rates"]["prompt_echo"] == 1.0


def test_draft_check_report_counts_usable_drafts() -> None:
    from daemon.tools.evaluate import draft_check_report

    example = {"text": "My Vela toothbrush broke. Dana Ross", "sentiment": "negative",
               "entities": {"name": ["Dana Ross"], "product": ["Vela toothbrush"], "location": []}}
    good = ("Hi Dana,\n\nI'm sorry your Vela toothbrush broke. Could you tell us when it "
            "stopped working? We'll sort out a repair or a replacement.\n\nBest regards,\n"
            "The replyd support team")
    report = draft_check_report([example] * 3, [good, "Reply: " + good, None])
    assert report["usable"] == round(1 / 3, 4)
    assert report["check_failure_rates"]["prompt_echo"] == round(1 / 3, 4)
    assert report["check_failure_rates"]["empty"] == round(1 / 3, 4)


def test_eval_rejects_bad_data_before_starting_an_engine(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "hi", "label": "angry"}\n')
    out = eval_cli("--task", "sentiment", "--data", str(data), "--engine", "echo")
    assert out.returncode == 2 and "label must be one of" in out.stderr
    out = eval_cli("--task", "reply", "--data", str(data), "--engine", "echo", "--few-shot", "2")
    assert out.returncode == 2 and "--few-shot applies" in out.stderr
