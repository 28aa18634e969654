"""`replyd replay-dead-letters` against the real broker: dead letters made by the daemon itself."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from daemon.contracts import DeadLetter
from daemon.settings import Settings
from daemon.tools.produce import produce
from daemon.tools.replay import REPLAYED_FROM_HEADER, replay_dead_letters
from daemon.tools.topics import ensure_topics
from tests.conftest import REPO
from tests.daemon.kafka_helpers import email_bytes, read
from tests.daemon.service.test_daemon import daemon_for, run_until

GOOD = 4


async def _dead_letters(
    settings: Settings,
) -> tuple[Settings, list[tuple[bytes, bytes]], list[DeadLetter]]:
    """Good emails and bad bytes (keyed) through the daemon; returns the inputs and dead letters."""
    settings = settings.model_copy(
        update={"max_body_bytes": 2000, "deadletter_max_original_bytes": 3000, "max_batch_size": 4}
    )
    inputs = [
        (b"k-good-0", email_bytes(0)),
        (b"k-junk", b"{not json"),
        (b"k-good-1", email_bytes(1)),
        (b"k-schema", b'{"message_id": "<only@x>"}'),
        (b"k-big", email_bytes(90, body="x" * 2500)),  # too_large, kept whole
        (b"k-huge", email_bytes(91, body="y" * 5000)),  # too_large, truncated
        (b"k-bin", b"\xff\xfe"),
        (b"k-good-2", email_bytes(2)),
        (b"k-good-3", email_bytes(3)),
    ]
    await ensure_topics(
        settings, [settings.input_topic, settings.drafts_topic, settings.deadletter_topic]
    )
    await produce(settings, settings.input_topic, inputs)
    _, dead = await run_until(daemon_for(settings), settings, drafts=GOOD, dead=len(inputs) - GOOD)
    return settings, inputs, dead


async def _replayed(
    settings: Settings, before: int
) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
    """The records appended to the input topic after its first ``before`` ones."""
    records = await read(settings, settings.input_topic, before, timeout_s=10)
    return [(r.key, r.value, dict(r.headers)) for r in records if r.offset >= before]


async def test_replay_by_reason_sends_the_original_bytes_and_skips_truncated(
    settings: Settings,
) -> None:
    settings, inputs, dead = await _dead_letters(settings)
    assert sorted(d.reason for d in dead) == sorted(
        ["invalid_json", "invalid_json", "schema", "too_large", "too_large"]
    )
    assert [d.original_truncated for d in dead if d.reason == "too_large"].count(True) == 1
    lines: list[str] = []

    # Dry run first: it reports, sends nothing.
    dry = await replay_dead_letters(
        settings, reasons=["invalid_json", "too_large"], dry_run=True, echo=lines.append
    )
    assert (dry.replayed, dry.skipped_truncated, dry.filtered_out) == (3, 1, 1)
    assert dry.line() == (
        "replay: 3 replayed, 1 skipped (truncated), 1 filtered out (dry run: nothing sent)"
    )
    assert any("would replay" in line for line in lines)
    assert any("original truncated" in line for line in lines)
    assert await _replayed(settings, len(inputs)) == []

    # The real replay: exactly the originals of the selected, untruncated dead letters, in
    # dead-letter order, with the original keys.
    summary = await replay_dead_letters(
        settings, reasons=["invalid_json", "too_large"], echo=lines.append
    )
    assert summary.line() == "replay: 3 replayed, 1 skipped (truncated), 1 filtered out"
    replayed = await _replayed(settings, len(inputs))
    by_key = dict(inputs)
    assert [(key, value) for key, value, _ in replayed] == [
        (b"k-junk", by_key[b"k-junk"]),
        (b"k-big", by_key[b"k-big"]),
        (b"k-bin", by_key[b"k-bin"]),
    ]
    expected_from = {
        d.source.offset: base64.b64decode(d.original_b64) for d in dead if not d.original_truncated
    }
    assert all(
        headers[REPLAYED_FROM_HEADER].startswith(settings.deadletter_topic.encode())
        for _, _, headers in replayed
    )
    assert {value for _, value, _ in replayed} <= set(expected_from.values())

    # The daemon takes the replayed bytes like any input: the same three dead letters again.
    _, again = await run_until(daemon_for(settings), settings, drafts=GOOD, dead=len(dead) + 3)
    assert sorted(d.reason for d in again[len(dead) :]) == [
        "invalid_json",
        "invalid_json",
        "too_large",
    ]


async def test_since_filters_everything_out_and_schema_alone_is_one(settings: Settings) -> None:
    settings, inputs, _ = await _dead_letters(settings)
    future = datetime.now(UTC) + timedelta(hours=1)
    summary = await replay_dead_letters(settings, since=future, echo=lambda _: None)
    assert (summary.replayed, summary.skipped_truncated, summary.filtered_out) == (0, 0, 5)

    summary = await replay_dead_letters(settings, reasons=["schema"], echo=lambda _: None)
    assert (summary.replayed, summary.skipped_truncated, summary.filtered_out) == (1, 0, 4)
    assert [(k, v) for k, v, _ in await _replayed(settings, len(inputs))] == [
        (b"k-schema", b'{"message_id": "<only@x>"}')
    ]


async def test_the_command_line_dry_run_and_replay(settings: Settings) -> None:
    settings, inputs, _ = await _dead_letters(settings)
    base = [
        sys.executable,
        "-m",
        "daemon.cli",
        "--plain-logs",
        "replay-dead-letters",
        "--bootstrap",
        settings.bootstrap_servers,
        "--input-topic",
        settings.input_topic,
        "--deadletter-topic",
        settings.deadletter_topic,
    ]

    def cli(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *extra], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
        )

    done = await asyncio.to_thread(cli, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "replay: 4 replayed, 1 skipped (truncated), 0 filtered out (dry run: nothing sent)"
    )
    assert await _replayed(settings, len(inputs)) == []

    done = await asyncio.to_thread(
        cli, "--reason", "invalid_json", "--since", "2000-01-01T00:00:00Z"
    )
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.splitlines()[-1] == "replay: 2 replayed, 0 skipped (truncated), 3 filtered out"
    )
    assert [v for _, v, _ in await _replayed(settings, len(inputs))] == [b"{not json", b"\xff\xfe"]

    done = await asyncio.to_thread(cli, "--since", "yesterday")
    assert done.returncode == 2 and "--since" in done.stderr


@pytest.mark.parametrize(
    "value", ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T01:00:00+01:00"]
)
def test_since_parses_iso8601_as_utc(value: str) -> None:
    from daemon.tools.replay import parse_since

    assert parse_since(value) == datetime(2026, 1, 1, tzinfo=UTC)
