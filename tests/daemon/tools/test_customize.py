"""``replyd synth / train / adapters``, called in-process through argparse."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.cli import build_parser
from daemon.tools.customize import load_rows, render_row, score
from handlers import entities, persona, reply, sentiment
from handlers.types import EmailText, Entities
from models.customize.registry import WEIGHTS_FILE, Registry
from models.engines.base import GenerateResult
from models.errors import AdapterError, ConfigurationError
from models.synth.emails import (
    entity_examples,
    persona_examples,
    reply_examples,
    sentiment_examples,
)

SHIPPED_TASKS = {"sentiment", "entities", "reply", "persona", "analysis", "topic", "steering"}


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def run(*argv: str) -> int:
    args = parse(*argv)
    return args.func(args)


def test_adapters_verify_passes_on_the_shipped_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("adapters", "verify") == 0
    assert "ok: 7 adapter(s)" in capsys.readouterr().out


def test_adapters_list_json_shows_the_shipped_adapters(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("adapters", "list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["task"] for row in rows} == SHIPPED_TASKS
    defaults = Registry().defaults()
    for row in rows:
        assert {"id", "task", "method", "base_model", "sha256", "hyperparameters", "data_sha256",
                "data", "eval", "created_at", "files", "base_model_sha256"} <= set(row)
        assert row["base_model"] == "SmolLM2-135M-Instruct"
        assert row["method"] in ("lora", "ptuning")
        weights = Path(row["path"]) / WEIGHTS_FILE
        assert row["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
        assert row["size_bytes"] == weights.stat().st_size
        assert row["default"] == (defaults[row["task"]] == row["id"])
    assert sum(row["default"] for row in rows) == 7


def test_adapters_list_table_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("adapters", "list") == 0
    table = capsys.readouterr().out
    cid = Registry().defaults()["entities"]
    assert cid in table
    assert run("adapters", "show", cid) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == cid and shown["task"] == "entities" and shown["default"] is True
    with pytest.raises(AdapterError):
        run("adapters", "show", "../escape")


def test_adapters_verify_fails_on_a_tampered_copy(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    shipped = Registry()
    copy = tmp_path / "registry"
    shutil.copytree(shipped.root, copy, ignore=shutil.ignore_patterns("__pycache__"))
    cid = shipped.defaults()["persona"]
    config = copy / cid / "adapter_config.json"
    config.write_text(config.read_text("utf-8").replace('"inference_mode": true',
                                                        '"inference_mode": false'), "utf-8")
    assert run("adapters", "verify", "--registry", str(copy)) == 1
    out = capsys.readouterr().out
    assert f"FAIL {cid}: adapter_config.json has sha256" in out
    assert run("adapters", "verify", shipped.defaults()["sentiment"], "--registry", str(copy)) == 0


def test_adapters_list_on_an_empty_registry(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert run("adapters", "list", "--json", "--registry", str(tmp_path)) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_synth_writes_rows_and_provenance(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data" / "persona.jsonl"
    assert run("synth", "--task", "persona", "--n", "5", "--seed", "4", "--split", "eval",
               "--out", str(out)) == 0
    assert "wrote 5 persona rows" in capsys.readouterr().out
    assert load_rows(out) == persona_examples(5, 4, "eval")
    meta = json.loads((tmp_path / "data" / "persona.jsonl.meta.json").read_text("utf-8"))
    assert meta == {"generator": "models.synth.emails", "task": "persona", "n": 5, "seed": 4,
                    "split": "eval", "sha256": hashlib.sha256(out.read_bytes()).hexdigest()}
    with pytest.raises(ConfigurationError):
        run("synth", "--task", "persona", "--n", "0", "--out", str(out))
    with pytest.raises(SystemExit):
        parse("synth", "--task", "summary", "--n", "1", "--out", str(out))


def test_synth_more_cases_writes_reply_rows_over_every_case(tmp_path: Path) -> None:
    from models.synth.emails import reply_examples

    out = tmp_path / "reply.jsonl"
    assert run("synth", "--task", "reply", "--n", "40", "--more-cases", "--out", str(out)) == 0
    assert load_rows(out) == reply_examples(40, 0, "train", more_cases=True)
    assert load_rows(out) != reply_examples(40, 0, "train")
    assert json.loads(out.with_name("reply.jsonl.meta.json").read_text("utf-8"))["more_cases"]
    with pytest.raises(ConfigurationError, match="--task reply"):
        run("synth", "--task", "sentiment", "--n", "4", "--more-cases", "--out", str(out))
    added = tmp_path / "added.jsonl"
    assert run("synth", "--task", "reply", "--n", "40", "--more-cases-added", "--out",
               str(added)) == 0
    assert load_rows(added) == reply_examples(40, 0, "train", added=True)
    assert load_rows(added)[:40] == reply_examples(40, 0, "train")
    meta = json.loads(added.with_name("added.jsonl.meta.json").read_text("utf-8"))
    assert (meta["n"], meta["more_cases"]) == (40, "added")


def test_synth_paraphrased_writes_reply_rows_and_records_it(tmp_path: Path) -> None:
    from models.synth.emails import reply_examples

    out = tmp_path / "told.jsonl"
    assert run("synth", "--task", "reply", "--n", "40", "--more-cases-added", "--paraphrased",
               "--out", str(out)) == 0
    assert load_rows(out) == reply_examples(40, 0, "train", added=True, paraphrased=True)
    assert load_rows(out) != reply_examples(40, 0, "train", added=True)
    meta = json.loads(out.with_name("told.jsonl.meta.json").read_text("utf-8"))
    assert (meta["more_cases"], meta["paraphrased"]) == ("added", True)
    with pytest.raises(ConfigurationError, match="--task reply"):
        run("synth", "--task", "entities", "--n", "4", "--paraphrased", "--out", str(out))


def test_synth_teacher_refuses_tasks_without_a_message_and_bad_servers(tmp_path: Path) -> None:
    out = tmp_path / "rows.jsonl"
    with pytest.raises(ConfigurationError, match="none to rewrite"):
        run("synth", "--task", "persona", "--n", "3", "--out", str(out),
            "--teacher-url", "http://127.0.0.1:9")
    assert not out.exists()  # refused before writing anything
    with pytest.raises(ConfigurationError, match="teacher-fraction"):
        run("synth", "--task", "sentiment", "--n", "3", "--out", str(out),
            "--teacher-url", "http://127.0.0.1:9", "--teacher-fraction", "2")
    # Port 9 (discard) is closed on loopback: a clear error, not a traceback.
    with pytest.raises(ConfigurationError, match="cannot list the teacher's models"):
        run("synth", "--task", "sentiment", "--n", "3", "--out", str(out),
            "--teacher-url", "http://127.0.0.1:9")


def email(text: str) -> EmailText:
    return EmailText(message_id="train", subject="", body=text)


def test_rows_render_with_the_handlers_prompts() -> None:
    row = sentiment_examples(1, 0)[0]
    assert render_row("sentiment", row) == (sentiment.messages(email(row["text"])), row["label"])

    row = entity_examples(1, 0)[0]
    messages, completion = render_row("entities", row)
    assert messages == entities.messages(email(row["text"]))
    assert list(json.loads(completion)) == ["name", "product", "location"]
    assert json.loads(completion) == row["entities"]

    row = reply_examples(1, 0)[0]
    found = Entities(**{k: tuple(v) for k, v in row["entities"].items()})
    assert render_row("reply", row) == (
        reply.messages(email(row["text"]), row["sentiment"], found), row["reply"])

    row = persona_examples(1, 0)[0]
    assert render_row("persona", row) == (persona.messages(row["text"], "pirate"), row["rewrite"])


def test_train_refuses_bad_data_before_loading_a_model(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine", "label": "positive"}\nnot json\n', "utf-8")
    with pytest.raises(ConfigurationError, match=r"bad\.jsonl:2"):
        run("train", "--task", "sentiment", "--data", str(bad))
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"text": "fine", "label": "happy"}\n', "utf-8")
    with pytest.raises(ConfigurationError, match="row 1 is not a valid sentiment row"):
        run("train", "--task", "sentiment", "--data", str(wrong))
    with pytest.raises(ConfigurationError, match="row 1 is not a valid entities row"):
        run("train", "--task", "entities", "--data", str(wrong))


def test_train_refuses_data_changed_after_synth(tmp_path: Path) -> None:
    data = tmp_path / "s.jsonl"
    assert run("synth", "--task", "sentiment", "--n", "3", "--out", str(data)) == 0
    with data.open("a", encoding="utf-8") as handle:
        handle.write('{"text": "added by hand", "label": "neutral"}\n')
    with pytest.raises(ConfigurationError, match="changed since"):
        run("train", "--task", "sentiment", "--data", str(data), "--registry",
            str(tmp_path / "registry"), "--quiet")


def result(text: str) -> GenerateResult:
    return GenerateResult(text=text, finish_reason="stop", prompt_tokens=1, completion_tokens=1)


def test_score_sentiment_and_entities() -> None:
    rows = [{"text": "a", "label": "positive"}, {"text": "b", "label": "negative"},
            {"text": "c", "label": "neutral"}]
    figures = score("sentiment", rows, [result("positive"), result("neutral"), result("??")])
    assert figures == {"accuracy": 0.3333, "accuracy_examples": 3}

    rows = [{"text": "Hi, Ana Lima here about my Zeta phone in Porto.",
             "entities": {"name": ["Ana Lima"], "product": ["Zeta phone"], "location": ["Porto"]}},
            {"text": "No names here.", "entities": {"name": [], "product": [], "location": []}}]
    outputs = [result('{"name": ["Ana Lima"], "product": ["Zeta phone", "Lisbon"], '
                      '"location": []}'),
               result("not json")]
    figures = score("entities", rows, outputs)
    # "Lisbon" is not in the email, so the parser drops it: 2 true positives, 1 missed (Porto).
    assert figures["precision"] == 1.0 and figures["recall"] == 0.6667
    assert figures["micro_f1"] == 0.8 and figures["exact_match"] == 0.5


@pytest.fixture
def _restore_torch_threads() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.peft
@pytest.mark.usefixtures("_restore_torch_threads")
def test_train_end_to_end_prints_the_new_id_last(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    data, held = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    assert run("synth", "--task", "sentiment", "--n", "8", "--seed", "5", "--out", str(data)) == 0
    assert run("synth", "--task", "sentiment", "--n", "3", "--seed", "5", "--split", "eval",
               "--out", str(held)) == 0
    capsys.readouterr()
    registry = tmp_path / "registry"
    cache = os.environ.get("REPLYD_MODEL_CACHE_DIR", "~/.cache/replyd/models")
    assert run("train", "--task", "sentiment", "--data", str(data), "--eval-data", str(held),
               "--rank", "2", "--batch-size", "8", "--registry", str(registry),
               "--model-cache-dir", str(Path(cache).expanduser()), "--set-default",
               "--quiet") == 0
    cid = capsys.readouterr().out.strip().splitlines()[-1]
    manifest = Registry(registry).get(cid)
    assert manifest.task == "sentiment" and manifest.hyperparameters["rank"] == 2
    assert manifest.data["generator"] == {"generator": "models.synth.emails", "seed": 5,
                                          "split": "train", "n": 8}
    assert manifest.data["eval_generator"]["split"] == "eval"
    assert manifest.eval["accuracy_examples"] == 3 and 0 <= manifest.eval["accuracy"] <= 1
    assert Registry(registry).defaults() == {"sentiment": cid}
    assert Registry(registry).verify() == []


def test_the_teacher_api_key_comes_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from daemon.tools.customize import teacher_api_key

    monkeypatch.delenv("REPLYD_TEACHER_API_KEY", raising=False)
    assert teacher_api_key(None) is None
    monkeypatch.setenv("REPLYD_TEACHER_API_KEY", "from-env")
    assert teacher_api_key(None) == "from-env"
    key = tmp_path / "key"
    key.write_text("from-file\n")
    assert teacher_api_key(key) == "from-file"
    build_parser().parse_args(["synth", "--task", "reply", "--n", "1", "--out", "x.jsonl",
                               "--teacher-api-key-file", str(key)])
    # An old habit, "--teacher-api-key SECRET", is read as a file name; the error never says it.
    with pytest.raises(ConfigurationError) as refused:
        teacher_api_key(tmp_path / "s3cret-token")
    assert "s3cret-token" not in str(refused.value)
