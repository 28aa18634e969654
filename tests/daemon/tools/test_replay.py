"""`replyd replay-dead-letters` against the real broker: which letters go back, once, and how the
consumer group keeps a second run from resending them."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition

from daemon.contracts import DeadLetter, SourceCoordinates
from daemon.settings import Settings
from daemon.tools import replay
from daemon.tools.produce import produce
from daemon.tools.replay import REPLAYED_FROM_HEADER, ReplaySummary, replay_dead_letters
from daemon.tools.topics import ensure_topics
from tests.conftest import REPO
from tests.daemon.kafka_helpers import email_bytes, read
from tests.daemon.service.test_daemon import daemon_for, run_until

Sent = tuple[bytes | None, bytes, dict[str, bytes]]


def _letter(settings: Settings, reason: str, original: bytes, offset: int,
            topic: str | None = None, keep: int = 10_000) -> bytes:
    source = SourceCoordinates(topic=topic or settings.input_topic, partition=0, offset=offset)
    letter = DeadLetter.build(reason, "boom", source, original, keep)  # type: ignore[arg-type]
    return letter.model_dump_json(by_alias=True).encode()


def _tampered(settings: Settings, offset: int) -> bytes:
    """A letter whose original_b64 was edited after the daemon wrote it."""
    letter = DeadLetter.model_validate_json(_letter(settings, "engine_error", b"x", offset))
    edited = letter.model_copy(update={"original_b64": base64.b64encode(b"y").decode()})
    return edited.model_dump_json(by_alias=True).encode()


async def _setup(settings: Settings, letters: list[tuple[bytes | None, bytes]]) -> None:
    await ensure_topics(settings, [settings.input_topic, settings.deadletter_topic])
    await produce(settings, settings.deadletter_topic, letters)


async def _input_then_marker(settings: Settings, count: int) -> list[Sent]:
    """The input topic's records up to a marker sent now, which must come after ``count``."""
    marker = f"marker-{uuid.uuid4().hex}".encode()
    await produce(settings, settings.input_topic, [(b"marker", marker)])
    records = [(r.key, r.value, dict(r.headers))
               for r in await read(settings, settings.input_topic, count + 1, timeout_s=20)]
    assert records[-1][1] == marker, records
    return [r for r in records if not r[1].startswith(b"marker-")]


async def _run(settings: Settings, **kwargs: object) -> ReplaySummary:
    lines: list[str] = []
    summary = await replay_dead_letters(settings, echo=lines.append, **kwargs)  # type: ignore[arg-type]
    for text in [*lines, *summary.lines()]:
        assert "Question" not in text and "AeroBlend" not in text  # never the email text
    print("\n".join(summary.lines()))
    return summary


async def test_transient_letters_go_back_once_and_the_rest_only_when_named(
    settings: Settings,
) -> None:
    mails = [email_bytes(i) for i in range(5)]
    await _setup(settings, [
        (b"k-e0", _letter(settings, "engine_error", mails[0], 0)),
        (b"k-req", _letter(settings, "engine_request", mails[1], 1)),
        (b"k-schema", _letter(settings, "schema", b'{"message_id": "<only@x>"}', 2)),
        (b"k-junk", _letter(settings, "invalid_json", b"{not json", 3)),
        (b"k-foreign", _letter(settings, "engine_error", mails[2], 4, topic="other-topic")),
        (b"k-trunc", _letter(settings, "engine_error", mails[3], 5, keep=10)),
        (b"k-odd", b"not a dead letter"),
        (b"k-edit", _tampered(settings, 6)),
        (b"k-e1", _letter(settings, "engine_error", mails[4], 7)),
    ])

    dry = await _run(settings, dry_run=True)
    assert dict(dry.replayed) == {"engine_error": 2}
    assert {why: dry.skipped_for(why) for why in (
        replay.NOT_SELECTED, replay.FOREIGN_SOURCE, replay.TRUNCATED, replay.UNREADABLE,
        replay.SHA256_MISMATCH)} == {replay.NOT_SELECTED: 3, replay.FOREIGN_SOURCE: 1,
                                      replay.TRUNCATED: 1, replay.UNREADABLE: 1,
                                      replay.SHA256_MISMATCH: 1}
    assert dry.skipped[(replay.NOT_SELECTED, "engine_request")] == 1
    assert dry.line().startswith("replay (dry run): would replay 2 (engine_error=2), would skip 7")
    assert dry.committed == {}
    assert await _input_then_marker(settings, 0) == []

    # The real run still finds both (the dry run committed nothing) and sends only them.
    first = await _run(settings)
    assert (first.replayed_total, first.skipped_total) == (2, 7)
    assert first.committed == {f"{settings.deadletter_topic}/0": 9}
    sent = await _input_then_marker(settings, 1)
    assert [(k, v) for k, v, _ in sent] == [(b"k-e0", mails[0]), (b"k-e1", mails[4])]
    assert [h[REPLAYED_FROM_HEADER] for _, _, h in sent] == [
        f"{settings.deadletter_topic}/0/0".encode(), f"{settings.deadletter_topic}/0/8".encode()]

    # A second run has nothing left; a new letter is the only thing the third one sends.
    second = await _run(settings)
    assert (second.replayed_total, second.skipped_total) == (0, 0)
    await produce(settings, settings.deadletter_topic,
                  [(b"k-e2", _letter(settings, "engine_error", b"late", 8))])
    third = await _run(settings)
    assert third.replayed_coordinates == [f"{settings.deadletter_topic}/0/9"]
    sent = await _input_then_marker(settings, 4)
    assert [k for k, _, _ in sent] == [b"k-e0", b"k-e1", b"k-e2"]

    # Permanent reasons go back only when named, under a new group (the default one has moved
    # past them); that group remembers too. Refusals stay refusals.
    named = await _run(settings, reasons=["schema", "engine_request"], group="fixed-producer")
    assert dict(named.replayed) == {"engine_request": 1, "schema": 1}
    assert named.skipped_for(replay.FOREIGN_SOURCE) == 1
    assert (await _run(settings, reasons=["schema"], group="fixed-producer")).replayed_total == 0
    everything = await _run(settings, reasons=replay.DEAD_LETTER_REASONS, group="all")
    assert dict(everything.replayed) == {"engine_error": 3, "engine_request": 1,
                                         "invalid_json": 1, "schema": 1}
    assert everything.skipped_for(replay.TRUNCATED) == 1
    assert everything.skipped_for(replay.NOT_SELECTED) == 0


async def test_daemon_made_letters_by_reason(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"max_body_bytes": 2000, "deadletter_max_original_bytes": 3000, "max_batch_size": 4}
    )
    inputs = [
        (b"k-good-0", email_bytes(0)),
        (b"k-junk", b"{not json"),
        (b"k-schema", b'{"message_id": "<only@x>"}'),
        (b"k-big", email_bytes(90, body="x" * 2500)),  # too_large, kept whole
        (b"k-huge", email_bytes(91, body="y" * 5000)),  # too_large, truncated
        (b"k-bin", b"\xff\xfe"),
    ]
    await ensure_topics(
        settings, [settings.input_topic, settings.drafts_topic, settings.deadletter_topic]
    )
    await produce(settings, settings.input_topic, inputs)
    await run_until(daemon_for(settings), settings, drafts=1, dead=len(inputs) - 1)

    default = await _run(settings, group="g-default")
    assert (default.replayed_total, default.skipped_for(replay.NOT_SELECTED)) == (0, 5)

    named = await _run(settings, reasons=["invalid_json", "too_large"], group="g-named")
    assert dict(named.replayed) == {"invalid_json": 2, "too_large": 1}
    assert named.skipped[(replay.TRUNCATED, "too_large")] == 1
    assert named.skipped[(replay.NOT_SELECTED, "schema")] == 1
    sent = await _input_then_marker(settings, len(inputs) + 3)
    by_key = dict(inputs)
    assert [(k, v) for k, v, _ in sent[len(inputs):]] == [
        (k, by_key[k]) for k in (b"k-junk", b"k-big", b"k-bin")]


async def test_the_command_line(settings: Settings) -> None:
    await _setup(settings, [
        (b"k-e0", _letter(settings, "engine_error", b"e0", 0)),
        (b"k-junk", _letter(settings, "invalid_json", b"{not json", 1)),
    ])
    base = [sys.executable, "-m", "daemon.cli", "--plain-logs", "replay-dead-letters",
            "--bootstrap", settings.bootstrap_servers, "--input-topic", settings.input_topic,
            "--deadletter-topic", settings.deadletter_topic]

    def cli(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *extra], cwd=REPO, capture_output=True, text=True,
                              timeout=120, check=False)

    done = await asyncio.to_thread(cli, "--dry-run")
    assert done.returncode == 0, done.stderr
    print(done.stdout)
    assert done.stdout.splitlines()[-1] == (
        "replay (dry run): would replay 1 (engine_error=1), would skip 1 "
        "(reason_not_selected=1); nothing sent, nothing committed")
    assert "  would skip invalid_json: 1 (reason_not_selected)" in done.stdout.splitlines()

    done = await asyncio.to_thread(cli, "--reasons", "invalid_json,engine_error",
                                   "--since", "2000-01-01T00:00:00Z")
    assert done.returncode == 0, done.stderr
    group = f"replyd-replay-{settings.input_topic}"
    assert done.stdout.splitlines()[-1] == (
        f"replay: 2 replayed (engine_error=1, invalid_json=1), 0 skipped; group {group}")
    done = await asyncio.to_thread(cli, "--all-reasons")
    assert done.stdout.splitlines()[-1] == f"replay: 0 replayed, 0 skipped; group {group}"
    assert [v for _, v, _ in await _input_then_marker(settings, 2)] == [b"e0", b"{not json"]

    for bad in (["--since", "yesterday"], ["--reasons", "bogus"],
                ["--all-reasons", "--reasons", "schema"], ["--sasl-password", "hunter2"],
                ["--sasl-password-file", "/nonexistent/pw"]):
        done = await asyncio.to_thread(cli, *bad)
        assert done.returncode == 2, (bad, done.stderr)
        assert "hunter2" not in done.stderr


def test_a_failed_acknowledgement_blocks_the_commit_past_it() -> None:
    from aiokafka import ConsumerRecord

    def decision(partition: int, offset: int) -> replay.Decision:
        record = ConsumerRecord("dead", partition, offset, 0, 0, None, b"", 0, 0, 0, [])
        return replay.Decision(record, "engine_error", None, "")

    decisions = [decision(0, 0), decision(0, 1), decision(0, 2), decision(1, 5)]
    assert replay.commit_offsets(decisions, {"dead/0/1"}) == {
        TopicPartition("dead", 0): 1, TopicPartition("dead", 1): 6}
    assert replay.commit_offsets(decisions, {"dead/0/0"}) == {TopicPartition("dead", 1): 6}


def test_reasons_parse_and_transient_is_engine_error() -> None:
    assert replay.parse_reasons("schema, engine_request") == ["schema", "engine_request"]
    with pytest.raises(ValueError, match="bogus"):
        replay.parse_reasons("schema,bogus")
    assert replay.TRANSIENT_DEAD_LETTER_REASONS == ("engine_error",)


@pytest.mark.parametrize(
    "value", ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T01:00:00+01:00"]
)
def test_since_parses_iso8601_as_utc(value: str) -> None:
    assert replay.parse_since(value) == datetime(2026, 1, 1, tzinfo=UTC)


async def test_raw_mail_goes_back_as_raw_mail(settings: Settings) -> None:
    raw = b"From: Dana <dana@example.org>\nSubject: kettle\n\nThe lid broke.\n"
    source = SourceCoordinates(topic=settings.input_topic, partition=0, offset=4)
    letter = DeadLetter.build("engine_error", "down", source, raw, 10_000,  # type: ignore[arg-type]
                              original_content_type="message/rfc822")
    await _setup(settings, [(b"k", letter.model_dump_json(by_alias=True).encode())])
    summary = await _run(settings)
    assert summary.replayed_total == 1
    ((_, value, headers),) = await _input_then_marker(settings, 1)
    assert value == raw
    assert headers["content-type"] == b"message/rfc822"


async def test_the_original_headers_go_back_but_not_replyds_own(settings: Settings) -> None:
    """A daemon-made letter keeps the record's headers; replay sends them again."""
    traceparent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    own = [("traceparent", traceparent), ("tenant", b"acme"),
           ("content-type", b"application/json"), ("replyd-replayed-from", b"dead/0/3")]
    await ensure_topics(
        settings, [settings.input_topic, settings.drafts_topic, settings.deadletter_topic])
    await produce(settings, settings.input_topic, [(b"k-junk", b"{not json", own)])
    await run_until(daemon_for(settings), settings, drafts=0, dead=1)

    summary = await _run(settings, reasons=["invalid_json"])
    assert summary.replayed_total == 1
    _, replayed = await read(settings, settings.input_topic, 2, timeout_s=20)
    assert (replayed.key, replayed.value) == (b"k-junk", b"{not json")
    assert list(replayed.headers) == [  # the earlier replay's header is not among them
        ("traceparent", traceparent), ("tenant", b"acme"), ("content-type", b"application/json"),
        (REPLAYED_FROM_HEADER, f"{settings.deadletter_topic}/0/0".encode())]
