"""`replyd bench --peer`: the peer's prompts and parsing, the scoring, and one whole comparison
against a canned OpenAI-compatible server on 127.0.0.1 (no vLLM) and a real broker process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from daemon.service.build import task_adapters
from daemon.settings import Settings
from daemon.tools import peer_bench
from daemon.tools.peer_bench import (
    SideRun,
    compare,
    few_shot,
    parse_entities,
    parse_sentiment,
    render_markdown,
    score,
    shots,
    summary,
)
from handlers import analysis
from models.synth.emails import generate_emails
from tests.conftest import REPO

EMPTY = {"name": [], "product": [], "location": []}


# -- prompts and parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "label"), [
    ("negative", "negative"), (" Positive.", "positive"), ("It is NEUTRAL, I think", "neutral"),
    ("neutrality", None), ("", None), ("negative or positive", "negative"),
])
def test_parse_sentiment_takes_the_first_label_word(text: str, label: str | None) -> None:
    assert parse_sentiment(text) == label


def test_parse_entities_keeps_the_known_fields_string_values() -> None:
    text = 'Sure! {"name": ["Dana Ross"], "product": "Halo", "location": [3, "Leeds"], "x": ["y"]}'
    assert parse_entities(text) == {"name": ["Dana Ross"], "product": [], "location": ["Leeds"]}


@pytest.mark.parametrize("text", ["", "no json here", "{not json}", "[1, 2]", '{"name": null}'])
def test_parse_entities_reads_garbage_as_nothing_found(text: str) -> None:
    assert parse_entities(text) == EMPTY


def test_few_shot_prompt_pairs_each_example_before_the_email() -> None:
    sentiment_shots, entity_shots = shots(3)
    turns = few_shot("SYSTEM", sentiment_shots, "the email")
    assert [t["role"] for t in turns] == ["system", *["user", "assistant"] * 3, "user"]
    assert turns[-1]["content"] == "the email"
    assert {t["content"] for t in turns[2:-1:2]} <= {"positive", "negative", "neutral"}
    for _, answer in entity_shots:
        assert set(json.loads(answer)) == set(EMPTY)
    # The examples come from the training split, never from the emails the bench scores.
    scored = {e.body for i in range(peer_bench.ROUNDS) for e in peer_bench.round_emails(24, i)}
    assert not scored & {text for text, _ in sentiment_shots + entity_shots}


# -- scoring --------------------------------------------------------------------------------------


def test_score_counts_a_missing_draft_as_wrong_and_free() -> None:
    emails = generate_emails(6, seed=1, split="eval")
    drafts = {e.message_id: {"sentiment": e.sentiment, "entities": e.entities,
                             "tokens": {"prompt": 100, "completion": 10}} for e in emails[:3]}
    wrong = emails[3]
    drafts[wrong.message_id] = {"sentiment": "neutral" if wrong.sentiment != "neutral"
                                else "positive", "entities": EMPTY,
                                "tokens": {"prompt": 100, "completion": 10}}
    run = score(emails, drafts, rate=2.0)
    assert run.drafted == 4
    assert run.sentiment_accuracy == pytest.approx(3 / 6, abs=1e-4)
    assert run.prompt_tokens_per_email == pytest.approx(400 / 6)
    assert run.completion_tokens_per_email == pytest.approx(40 / 6)
    gold = sum(len(v) for e in emails for v in e.entities.values())
    found = sum(len(v) for e in emails[:3] for v in e.entities.values())
    assert found and gold > found
    recall = found / gold  # precision is 1: every predicted pair is gold
    assert run.entity_f1 == pytest.approx(2 * recall / (1 + recall), abs=1e-4)  # rounded


def test_summary_is_medians_and_per_round_ratios() -> None:
    def side(rate: float) -> SideRun:
        return SideRun(rate, 100.0, 10.0, 0.5, 0.25, 4)

    result = peer_bench.PeerResult(4, 8, [(side(1.0), side(3.0)), (side(2.0), side(2.0))])
    figures = summary(result)
    assert figures["replyd_vs_peer_emails_per_s"] == [3.0, 1.0]
    assert figures["replyd_vs_peer_median"] == 2.0
    assert figures["peer_emails_per_s"] == 1.5
    assert figures["replyd_emails_per_s"] == 2.5
    assert "| emails_per_s | 1.500 | 2.500 |" in render_markdown(result, "replyd bench --peer")


# -- the whole comparison against a canned server -------------------------------------------------

REPLY = "Thank you for writing to us. We are looking into this and will get back to you soon."


@dataclass
class CannedServer:
    """An OpenAI-compatible server that answers by the system prompt: the sentiment prompt gets
    "negative", a JSON prompt nothing found, anything else a reply. Usage: 10 prompt tokens per
    message, 3 completion tokens."""

    models: list[str]
    posts: list[dict[str, object]] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                           if line.lower().startswith("content-length:")), 0)
            body = json.loads(await reader.readexactly(length) or b"{}")
            payload = self._answer(body) if head.startswith("POST") else {
                "data": [{"id": name} for name in self.models]}
            data = json.dumps(payload).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                         + data)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _answer(self, body: dict[str, object]) -> dict[str, object]:
        self.posts.append(body)
        messages = body["messages"]
        assert isinstance(messages, list)
        system = messages[0]["content"].lower()
        if "regex" in dict(body.get("structured_outputs") or {}):  # replyd's joint analysis
            text = analysis.answer("negative", EMPTY)
        else:
            text = ("negative" if "sentiment" in system
                    else json.dumps(EMPTY) if "json" in system else REPLY)
        return {"choices": [{"message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10 * len(messages), "completion_tokens": 3}}


@pytest.fixture
async def canned() -> AsyncIterator[tuple[CannedServer, str]]:
    settings = Settings()
    server = CannedServer([peer_bench.served_model(settings),
                           *task_adapters(settings).values()])
    url = await server.start()
    yield server, url
    assert server.server is not None
    server.server.close()
    with contextlib.suppress(Exception):
        await server.server.wait_closed()


async def test_compare_runs_both_sides_on_the_same_emails(
        canned: tuple[CannedServer, str]) -> None:
    server, url = canned
    n = 6
    settings = Settings(engine="openai", engine_url=url, session_timeout_ms=2000,
                        heartbeat_interval_ms=500, max_wait_ms=20)
    result = await compare(settings, url, n, concurrency=2, rounds=2)
    # Each round reads new emails (the server's prefix cache must not replay a round), and both
    # sides of a round read the same ones.
    rounds = [peer_bench.round_emails(n, i) for i in range(2)]
    assert {e.body for e in rounds[0]}.isdisjoint({e.body for e in rounds[1]})
    assert len(result.rounds) == 2
    # replyd runs with its own batching settings, as `replyd run` would.
    assert result.replyd_batching == (settings.max_batch_size, settings.max_concurrent_batches)
    for emails, (peer, replyd) in zip(rounds, result.rounds, strict=True):
        negative = sum(e.sentiment == "negative" for e in emails) / n
        assert 0 < negative < 1
        for side in (peer, replyd):
            assert side.drafted == n
            assert side.sentiment_accuracy == pytest.approx(negative, abs=1e-4)
            assert side.entity_f1 == 0.0
            assert side.emails_per_s > 0
        # The peer: 8 + 8 + 2 messages, one completion of 3 tokens per request.
        assert peer.prompt_tokens_per_email == 180
        assert peer.completion_tokens_per_email == 9
        # replyd: 2 messages per request and at least two requests (the joint analysis and
        # the reply; a retried draft adds).
        assert replyd.prompt_tokens_per_email >= 40
        assert replyd.prompt_tokens_per_email < peer.prompt_tokens_per_email
    models = {str(p["model"]) for p in server.posts}
    # The peer runs on the base model; replyd on its adapters.
    assert peer_bench.served_model(settings) in models
    assert set(task_adapters(settings).values()) & models


def test_replyd_bench_peer_prints_the_figures_and_updates_its_section(tmp_path: Path) -> None:
    """The command end to end (subprocess), the canned server on a thread of this process."""
    settings = Settings()
    server = CannedServer([peer_bench.served_model(settings), *task_adapters(settings).values()])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    url = asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\nintro kept\n")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "daemon.cli", "--plain-logs", "--no-progress", "bench",
             "--peer", "2", "--rounds", "3", "--engine", "openai", "--emails", "4",
             "--out", str(out)],
            capture_output=True, text=True, timeout=300, cwd=REPO,
            env={**os.environ, "REPLYD_ENGINE_URL": url},
        )
    finally:
        assert server.server is not None
        loop.call_soon_threadsafe(server.server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["emails"] == 4 and figures["peer_concurrency"] == 2
    assert figures["rounds"] == 3 and len(figures["replyd_vs_peer_emails_per_s"]) == 3
    assert figures["peer_prompt_tokens_per_email"] == 180
    text = out.read_text()
    assert "intro kept" in text and "<!-- bench:peer -->" in text and "<!-- /bench:peer -->" in text
    assert "A peer to beat" in text and "--peer 2" in text and "3 alternating rounds" in text


@pytest.mark.parametrize("flags", [["--peer", "0"], ["--peer", "--rounds", "0"]])
def test_replyd_bench_peer_refuses_counts_below_one(flags: list[str]) -> None:
    from daemon.cli import build_parser
    from models.errors import ConfigurationError

    args = build_parser().parse_args(["bench", *flags])
    with pytest.raises(ConfigurationError, match="at least 1"):
        peer_bench.cmd_peer_bench(args, lambda *_: None)
