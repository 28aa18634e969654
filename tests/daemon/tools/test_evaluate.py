"""`replyd eval` end to end on the echo engine (the metric logic); real-engine agreement is
tested in tests/models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from models.synth.answers import reference_request
from models.synth.datasets import write_dataset
from models.synth.reply_lists import REPLY_ANSWERS
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
        # ... and answers none of the requests the generator's reference replies answer.
        assert report["answers"] == {"n": 9, "right": 0.0, "other": 0.0, "none": 1.0}


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
    assert report["usable_mended"] == round(1 / 3, 4)  # an echo is never mended
    # A draft with one invented order number is mended (the sentence goes): usable once mended.
    invented = good.replace("replacement.", "replacement. Your order is 48213.")
    report = draft_check_report([example] * 2, [good, invented])
    assert report["usable"] == 0.5 and report["usable_mended"] == 1.0


def test_wording_report_counts_flags_per_answer_kind_and_what_a_cut_leaves() -> None:
    from daemon.tools.evaluate import wording_report
    from models.synth.emails import reply_examples

    rows = reply_examples(40, seed=3, split="eval")
    # A generator reply whose answer is the right one; a garbled sentence beside it; the same
    # reply with its answer garbled instead.
    row = next(r for r in rows if reference_request(r["reply"]) == "late_delivery")
    answer = next(a for a in REPLY_ANSWERS["late_delivery"] if a in row["reply"])
    garbled = "We'll ask the courier about deliveries to your address will be kept."
    beside = row["reply"].replace(answer, f"{answer} {garbled}")
    instead = row["reply"].replace(answer, garbled)
    report = wording_report([row] * 3, [row["reply"], beside, instead])
    assert report["references"] == 0.0 and report["share"] == round(2 / 3, 4)
    assert report["right"] == {"flagged": 1, "of": 2} and report["none"] == {"flagged": 1, "of": 1}
    # Cut, the right draft keeps its answer; the one with none still has none (a holding line).
    assert report["after_cut"]["right"] == {"right": 1, "other": 0, "none": 0}
    assert report["after_cut"]["none"] == {"right": 0, "other": 0, "none": 1}


def test_rewrite_check_report_counts_usable_rewrites() -> None:
    from daemon.tools.evaluate import rewrite_check_report
    from models.synth.emails import persona_examples

    rows = persona_examples(3, 5, "eval")
    rewrites = [rows[0]["rewrite"], rows[1]["rewrite"] + " Call 0800 555 0199 today.", None]
    report = rewrite_check_report(rows, rewrites)
    assert report["usable"] == round(1 / 3, 4)
    assert report["check_failure_rates"]["invented_facts"] == round(1 / 3, 4)
    assert report["check_failure_rates"]["empty"] == round(1 / 3, 4)


def test_eval_rejects_bad_data_before_starting_an_engine(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "hi", "label": "angry"}\n')
    out = eval_cli("--task", "sentiment", "--data", str(data), "--engine", "echo")
    assert out.returncode == 2 and "label must be one of" in out.stderr
    out = eval_cli("--task", "reply", "--data", str(data), "--engine", "echo", "--few-shot", "2")
    assert out.returncode == 2 and "--few-shot applies" in out.stderr


# --- injection: the steering guard, no engine ---------------------------------------------------


def test_injection_eval_meets_its_target_on_the_held_out_seed() -> None:
    """recall >= 0.95 at a false-positive rate <= 0.02 on the generator's held-out seed."""
    out = eval_cli("--task", "injection", "--data", "synth:2")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["task"] == "injection" and report["engine"] is None
    assert report["n_attacks"] >= 150 and report["n_benign"] >= 150
    assert report["recall"] >= 0.95 and report["false_positive_rate"] <= 0.02
    assert set(report["recall_per_family"]) >= {"override", "role", "phishing_reply", "tags"}
    assert report["missed_total"] == len(report["missed"])
    assert report["per_source"]["synth:2"]["n_attacks"] == report["n_attacks"]


def test_injection_data_is_checked_before_scoring(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "hi", "label": "maybe"}\n')
    out = eval_cli("--task", "injection", "--data", str(data))
    assert out.returncode == 2 and "label of 'attack' or 'benign'" in out.stderr
    out = eval_cli("--task", "injection", "--data", "synth:x")
    assert out.returncode == 2 and "seed must be a number" in out.stderr
