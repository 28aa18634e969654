"""The `replyd` command as a user runs it: real processes, real broker."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon.cli import build_parser
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
    from daemon.cli import SECRET_SETTINGS

    for name in Settings.model_fields:
        flag = f"--{name.replace('_', '-')}"
        assert (flag not in text) if name in SECRET_SETTINGS else (flag in text), name
    assert "--bootstrap" in text and "--group" in text
    assert "REPLYD_SASL_PASSWORD" in text


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
