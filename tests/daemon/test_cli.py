"""The `replyd` command as a user runs it: real processes, real broker."""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from daemon.cli import build_parser
from daemon.cli_args import DEPRECATED
from daemon.contracts import DeadLetter, Draft
from daemon.settings import Settings
from daemon.tools.broker import EmbeddedBroker
from tests.daemon.kafka_helpers import email_bytes, read

REPLYD = [sys.executable, "-m", "daemon.cli"]


def replyd(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REPLYD, "--plain-logs", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )


def test_help_documents_every_setting() -> None:
    text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()  # type: ignore[union-attr]
    import re

    from daemon.cli_args import flag_of
    from daemon.secret_flags import SECRET_SETTINGS

    for name in Settings.model_fields:
        # The flag itself, not a longer one that starts with it (--engine-api-key-file).
        shown = re.search(rf"{flag_of(name)}(?![\w-])", text) is not None
        assert shown is (name not in SECRET_SETTINGS), name
    assert "--bootstrap" in text and "--group" in text
    assert "REPLYD_SASL_PASSWORD" in text and "REPLYD_ENGINE_API_KEY" in text
    assert "--engine-api-key-file" in text and "--reply-engine-api-key-file" in text


def test_engine_keys_come_from_files_and_are_never_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from daemon.cli import settings_from
    from models.errors import ConfigurationError

    monkeypatch.delenv("REPLYD_ENGINE_API_KEY", raising=False)
    key = tmp_path / "api-key"
    key.write_text("s3cret-key\n")
    parser = build_parser()
    args = parser.parse_args(["run", "--engine-api-key-file", str(key),
                              "--reply-engine-api-key-file", str(key)])
    settings = settings_from(args)
    assert settings.engine_api_key is not None and settings.reply_engine_api_key is not None
    assert settings.engine_api_key.get_secret_value() == "s3cret-key"
    assert "s3cret-key" not in repr(settings) and "s3cret-key" not in str(settings)
    # Without the file flag: the environment, as for every setting.
    monkeypatch.setenv("REPLYD_ENGINE_API_KEY", "from-env")
    from_env = settings_from(parser.parse_args(["run"]))
    assert from_env.engine_api_key is not None
    assert from_env.engine_api_key.get_secret_value() == "from-env"
    # "--engine-api-key VALUE" abbreviates the file flag: the value must not be echoed.
    args = parser.parse_args(["run", "--engine-api-key", "typed-secret-value"])
    with pytest.raises(ConfigurationError) as caught:
        settings_from(args)
    assert "typed-secret-value" not in str(caught.value)
    assert "--engine-api-key-file" in str(caught.value)


def test_produce_then_run_then_sigterm(broker: EmbeddedBroker, settings: Settings, tmp_path: Path) -> None:
    emails = tmp_path / "emails.jsonl"
    emails.write_bytes(b"\n".join(email_bytes(i) for i in range(3)) + b"\n")
    raw = tmp_path / "raw.txt"
    raw.write_bytes(b"not json\n\n" + email_bytes(9) + b"\n")
    common = ["--bootstrap", broker.bootstrap]
    out = replyd("produce", *common, "--topic", settings.input_topic, "--file", str(emails))
    assert out.returncode == 0, out.stderr
    assert "produced 3 messages" in out.stdout
    out = replyd("produce", *common, "--topic", settings.input_topic, "--raw", str(raw))
    assert out.returncode == 0, out.stderr
    assert "produced 3 messages" in out.stdout  # the empty line is a message too

    daemon = subprocess.Popen(
        [*REPLYD, "run", *common, "--engine", "echo", "--group", settings.group_id,
         "--input-topic", settings.input_topic, "--drafts-topic", settings.drafts_topic,
         "--deadletter-topic", settings.deadletter_topic, "--metrics-port", "0",
         "--session-timeout-ms", "2000", "--heartbeat-interval-ms", "500"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # The embedded broker cannot do producer idempotence (on by default).
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
             "REPLYD_ENABLE_IDEMPOTENCE": "false"},
    )
    try:
        import asyncio

        drafts = asyncio.run(read(settings, settings.drafts_topic, 4))
        dead = asyncio.run(read(settings, settings.deadletter_topic, 2))
    finally:
        time.sleep(0.5)
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, stderr[-2000:]
    assert {Draft.model_validate_json(r.value).in_reply_to for r in drafts} == {
        f"<test-{i}@example.com>" for i in (0, 1, 2, 9)
    }
    # At-least-once: a rebalance on a loaded machine may replay a batch, so duplicates of a dead
    # letter (same source offset) are allowed; a missing or wrong one is not.
    letters = [DeadLetter.model_validate_json(r.value) for r in dead]
    unique = {(x.source.partition, x.source.offset): x.reason for x in letters}
    assert sorted(unique.values()) == ["invalid_json", "invalid_json"]
    originals = sorted(base64.b64decode(x.original_b64) for x in letters)
    assert set(originals) == {b"", b"not json"}
    # Logs are JSON lines and never carry email bodies or addresses.
    for line in stderr.strip().splitlines():
        entry = json.loads(line)
        assert "run_id" in entry
    assert "AeroBlend" not in stderr and "customer1@example.com" not in stderr


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"message_id": "x"}\n')
    out = replyd("produce", "--bootstrap", "127.0.0.1:1", "--file", str(bad))
    assert out.returncode == 2 and "invalid line" in out.stderr
    out = replyd("run", "--bootstrap", "nonsense")
    assert out.returncode == 2 and "HOST:PORT" in out.stderr


@pytest.mark.parametrize("flag", ["--max-batch-size", "--tasks"])
def test_settings_flags_parse(flag: str) -> None:
    args = build_parser().parse_args(["run", flag, "sentiment,reply" if flag == "--tasks" else "8"])
    from daemon.cli import settings_from

    settings = settings_from(args)
    assert settings.max_batch_size == 8 or settings.tasks == ("sentiment", "reply")


def _help(*command: str) -> str:
    parser = build_parser()
    for name in command:
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
                      ).choices[name]
    return parser.format_help()


def test_version() -> None:
    out = replyd("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"replyd {version('replyd')}"


@pytest.mark.parametrize("before", [True, False])
def test_global_flags_before_or_after_the_subcommand(before: bool) -> None:
    flags = ["--plain-logs", "--log-level", "DEBUG", "--no-progress"]
    argv = [*flags, "demo"] if before else ["demo", *flags]
    args = build_parser().parse_args(argv)
    assert args.plain_logs and args.no_progress and args.setting_log_level == "DEBUG"
    from daemon.cli import settings_from

    assert settings_from(args).log_level == "DEBUG"
    nested = build_parser().parse_args(
        ["corpus", "get", "wnut16", "--out", "x", "--plain-logs"])
    assert nested.plain_logs
    plain = build_parser().parse_args(["demo"])
    assert not plain.plain_logs and not plain.no_progress and plain.setting_log_level is None


def test_help_shows_choices_and_defaults_one_way() -> None:
    run = _help("run")
    assert "--engine {vllm,peft,echo,openai}" in run and "ENGINE " not in run
    assert "--sasl-mechanism {PLAIN," in run and "--check-drafts {true,false}" in run
    assert "(default: 32)" in " ".join(run.split())  # --max-batch-size, wrapped or not
    for command in (("run",), ("demo",), ("produce",), ("eval",), ("bench",), ("synth",),
                    ("train",), ("trial",), ("corpus", "get"), ("adapters", "list")):
        text = _help(*command)
        assert "[default" not in text and not re.search(r"\[\d+\]", text), command


@pytest.mark.parametrize(("argv", "dest", "value", "hidden_in"), [
    (["produce", "--synthetic", "3"], "emails", 3, ("produce",)),
    (["synth", "--task", "sentiment", "--n", "5", "--out", "x"], "n", 5, ("synth",)),
    (["eval", "--task", "sentiment", "--data", "x", "--batch", "4"], "batch", 4, ("eval",)),
    (["bench", "--registry-dir", "/r"], "setting_registry_dir", "/r", ("bench",)),
    (["adapters", "list", "--registry-dir", "/r"], "registry", Path("/r"),
     ("adapters", "list")),
])
def test_old_spellings_still_parse_but_are_hidden(
        argv: list[str], dest: str, value: object, hidden_in: tuple[str, ...],
        capsys: pytest.CaptureFixture[str]) -> None:
    assert getattr(build_parser().parse_args(argv), dest) == value
    old = next(a for a in argv if a in DEPRECATED)
    assert f"{old} is deprecated; use {DEPRECATED[old]}" in capsys.readouterr().err
    text = _help(*hidden_in)
    assert not re.search(rf"{old}(?![\w-])", text) and DEPRECATED[old] in text


@pytest.mark.parametrize(("argv", "env"), [
    (["run", "--max-batch-size", "0"], {}),
    (["run"], {"REPLYD_MAX_BATCH_SIZE": "0"}),
])
def test_a_bad_value_names_the_flag_and_the_variable(argv: list[str], env: dict[str, str]) -> None:
    out = subprocess.run(
        [*REPLYD, *argv], capture_output=True, text=True, timeout=120,
        env={**os.environ, **env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert out.returncode == 2
    assert out.stderr.strip() == ("replyd: --max-batch-size / REPLYD_MAX_BATCH_SIZE: Input "
                                  "should be greater than or equal to 1 (got 0)")


def test_a_secret_value_is_never_echoed(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("sasl_password = 12345678\n")
    out = replyd("run", "--config", str(config))
    assert out.returncode == 2 and "REPLYD_SASL_PASSWORD" in out.stderr
    assert "12345678" not in out.stderr and "http" not in out.stderr


@pytest.mark.parametrize(("name", "flag", "env", "toml", "flag_value", "expected"), [
    ("tasks", ["--tasks", "sentiment,reply"], "[\"entities\"]", 'tasks = ["persona"]',
     ("sentiment", "reply"), ("entities",)),
    ("adapters", ["--adapters", '{"sentiment": "from-flag"}'], '{"sentiment": "from-env"}',
     'adapters = {sentiment = "from-toml"}', {"sentiment": "from-flag"},
     {"sentiment": "from-env"}),
    ("check_drafts", ["--check-drafts", "false"], "true", "check_drafts = false", False, True),
])
def test_precedence_is_flag_then_env_then_toml_then_default(
        name: str, flag: list[str], env: str, toml: str, flag_value: object, expected: object,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tomllib

    from daemon.cli import settings_from

    config = tmp_path / "replyd.toml"
    config.write_text(toml + "\n")
    toml_value = getattr(Settings(**tomllib.loads(toml)), name)
    default = Settings.model_fields[name].default
    # Each layer changes the value, so each assertion below can only pass by that layer.
    assert default != toml_value != expected != flag_value
    parse = build_parser().parse_args
    monkeypatch.delenv(f"REPLYD_{name.upper()}", raising=False)
    assert getattr(settings_from(parse(["run"])), name) == default
    assert getattr(settings_from(parse(["run", "--config", str(config)])), name) == toml_value
    monkeypatch.setenv(f"REPLYD_{name.upper()}", env)
    assert getattr(settings_from(parse(["run", "--config", str(config)])), name) == expected
    given = settings_from(parse(["run", "--config", str(config), *flag]))
    assert getattr(given, name) == flag_value


def test_list_and_mapping_flags_take_pydantic_settings_spellings() -> None:
    from daemon.cli import settings_from

    parse = build_parser().parse_args
    settings = settings_from(parse(["run", "--tasks", '["sentiment", "reply"]', "--tasks",
                                    "persona", "--adapters", "sentiment=a,entities=b",
                                    "--engine-url", "null"]))
    assert settings.tasks == ("sentiment", "reply", "persona")  # JSON, and repeated
    assert settings.adapters == {"sentiment": "a", "entities": "b"}  # key=value pairs
    assert settings.engine_url is None


def test_an_undecodable_value_names_the_flag_not_the_value() -> None:
    out = replyd("run", "--engine", "echo", "--adapters", '{"sentiment": "secretish')
    assert out.returncode == 2
    assert out.stderr.startswith("replyd: --adapters / REPLYD_ADAPTERS: not a comma-separated")
    assert len(out.stderr.strip().splitlines()) == 1 and "secretish" not in out.stderr
