"""`replyd eval --baseline`: reference figures with no model and no engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from daemon.settings import Settings
from daemon.tools import evaluate
from daemon.tools.evaluate import EvalOptions, capitalised_names, run_baseline, run_eval
from models.errors import ConfigurationError
from tests.conftest import REPO

SENTIMENT_LINES = [
    {"text": "I love this blender, it is wonderful!", "label": "positive"},
    {"text": "Great service and a lovely, friendly courier.", "label": "positive"},
    {"text": "Terrible product, it broke and I hate it.", "label": "negative"},
    {"text": "The worst support I have ever had. Awful.", "label": "negative"},
    {"text": "The parcel arrived on Tuesday.", "label": "neutral"},
    {"text": "The invoice is attached to this email.", "label": "neutral"},
    # Gold neutral, but VADER reads it as positive: the one miss.
    {"text": "Absolutely love it, best purchase this year!", "label": "neutral"},
]
ENTITY_LINES = [
    {
        "text": "Yesterday John Smith bought a Kindle in Paris .",
        "entities": {"name": ["John Smith"], "product": ["Kindle"], "location": ["Paris"]},
    },
    {
        "text": "Thanks Mary , see you in Rome",
        "entities": {"name": ["Mary"], "product": [], "location": ["Rome"]},
    },
]


def write_jsonl(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def eval_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--plain-logs", "eval", *args],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip


def test_lexicon_baseline_end_to_end(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "sentiment.jsonl", SENTIMENT_LINES)
    predictions = tmp_path / "predictions.jsonl"
    out = eval_cli("--task", "sentiment", "--data", str(data), "--baseline", "lexicon",
                   "--engine", "echo", "--predictions", str(predictions))  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["task"] == "sentiment" and report["n"] == 7
    assert report["mode"] == "baseline-lexicon" and report["engine"] is None
    assert report["accuracy"] == round(6 / 7, 4)
    assert report["confusion"]["neutral"] == {
        "positive": 1, "negative": 0, "neutral": 2, "invalid": 0,
    }  # fmt: skip
    assert report["per_class"]["positive"] == {"precision": 0.6667, "recall": 1.0, "support": 2}
    written = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert [w["prediction"] for w in written] == [
        "positive", "positive", "negative", "negative", "neutral", "neutral", "positive",
    ]  # fmt: skip


async def test_baselines_never_start_an_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_engine(*args: object) -> None:
        raise AssertionError("a baseline started an engine")

    monkeypatch.setattr(evaluate, "build_engine", no_engine)
    monkeypatch.setattr(evaluate, "task_adapters", no_engine)
    data = write_jsonl(tmp_path / "s.jsonl", SENTIMENT_LINES[:2])
    settings = Settings(engine="vllm")
    report = await run_eval(settings, EvalOptions("sentiment", data, baseline="lexicon"))
    assert report["accuracy"] == 1.0 and report["mode"] == "baseline-lexicon"
    data = write_jsonl(tmp_path / "e.jsonl", ENTITY_LINES)
    report = await run_eval(settings, EvalOptions("entities", data, baseline="capitalised"))
    assert report["mode"] == "baseline-capitalised"


@pytest.mark.parametrize(
    ("compound", "label"),
    [(0.05, "positive"), (0.0499, "neutral"), (0.0, "neutral"), (-0.0499, "neutral"),
     (-0.05, "negative"), (-0.9, "negative")],
)  # fmt: skip
def test_lexicon_thresholds(compound: float, label: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import vaderSentiment.vaderSentiment as vader

    class Fixed:
        def polarity_scores(self, text: str) -> dict[str, float]:
            return {"compound": compound}

    monkeypatch.setattr(vader, "SentimentIntensityAnalyzer", Fixed)
    assert evaluate.vader_predictor()("anything") == label


def test_lexicon_baseline_without_vader_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "vaderSentiment.vaderSentiment", None)
    with pytest.raises(ConfigurationError, match=r"pip install vaderSentiment==3\.3\.2"):
        evaluate.vader_predictor()


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Yesterday John Smith bought a Kindle in Paris. Thanks Mary",
         ["John Smith", "Kindle", "Paris", "Mary"]),
        ('hi there, met Anna Lee. "Great" said Bob Dylan!', ["Anna Lee", "Bob Dylan"]),
        ("Met Anna , Bob and Carl Jung .", ["Anna", "Bob", "Carl Jung"]),
        ("RT @JohnDoe : LOL #Apple I love New York City http://x.co/Ab", ["New York City"]),
        ("The Hi Thanks I", []),
        ("", []),
        ("call me maybe , Sam ... Sam", ["Sam"]),
    ],
)  # fmt: skip
def test_capitalised_names(text: str, names: list[str]) -> None:
    assert capitalised_names(text) == {"name": names, "product": [], "location": []}


def test_capitalised_baseline_scores_names_only(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "entities.jsonl", ENTITY_LINES)
    predictions = tmp_path / "p.jsonl"
    report = run_baseline(EvalOptions("entities", data, baseline="capitalised",
                                      predictions=predictions))  # fmt: skip
    # Predicted names: John Smith, Kindle, Paris (line 1), Mary, Rome (line 2); gold names: 2.
    assert report["per_field"]["name"] == {"precision": 0.4, "recall": 1.0, "f1": 0.5714}
    assert report["per_field"]["product"]["recall"] == 0.0
    assert report["recall"] == 0.4 and report["precision"] == 0.4  # 2 of 5 gold pairs found
    assert len(predictions.read_text().splitlines()) == 2


def test_baseline_must_match_the_task(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "s.jsonl", SENTIMENT_LINES)
    with pytest.raises(ConfigurationError, match="--baseline capitalised applies to --task"):
        run_baseline(EvalOptions("sentiment", data, baseline="capitalised"))
    out = eval_cli("--task", "entities", "--data", str(data), "--baseline", "lexicon")
    assert out.returncode == 2 and "--baseline lexicon applies to --task sentiment" in out.stderr
    out = eval_cli("--task", "sentiment", "--data", str(data), "--baseline", "lexicon",
                   "--adapter", "x")  # fmt: skip
    assert out.returncode == 2 and "not allowed with argument" in out.stderr
