"""`replyd bench --peer`: replyd against the peer a user would build without it, in one run.

The peer is what one writes in an afternoon: an aiokafka consumer (its own group) that, for each
email, sends three chat-completion requests to a vLLM OpenAI server on the BASE model with no
adapter: sentiment and entities with plain few-shot prompts (``SHOTS`` solved examples from the
project's training split, the ones ``replyd eval --few-shot`` uses), then a zero-shot reply. Its
parsing is deliberately simple (the first label word; the first ``{...}`` as JSON) and it uses no
constrained decoding: that is the common first version, and vLLM's structured outputs are an
option a user has to discover. At most ``concurrency`` emails are in flight (one
``asyncio.Semaphore``); it produces a draft JSON per email and commits after each fetched batch.

replyd is ``replyd run --engine openai`` in-process (a ``Daemon``) against the SAME server, with
the registry's adapters served under their customization IDs and its own batching settings
(``REPLYD_MAX_BATCH_SIZE``, ``REPLYD_MAX_CONCURRENT_BATCHES`` or ``--config``). In each round both
read the same labelled synthetic emails (``generate_emails(n, SEED + round, split="eval")``:
new emails every round, so the server's prefix cache never replays a round); their sides
alternate over ``ROUNDS`` rounds (the order flips each round), on fresh topics each time, so a
slow spell of a shared machine hits both. Figures per side: emails/s (first record fetched →
last draft acknowledged), prompt and completion tokens per email (the servers' ``usage``
fields), sentiment accuracy and entity micro-F1 (``handlers.scoring``) against the labels.

The server: ``REPLYD_ENGINE_URL`` with ``--engine openai``, else a local vLLM server started here
(``engine_bench.local_server``) and stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from daemon.service.build import build_engine, build_pipeline_config
from daemon.service.daemon import Daemon
from daemon.settings import Settings
from daemon.tools.broker import EmbeddedBroker
from daemon.tools.produce import produce
from daemon.tools.topics import ensure_topics
from handlers.scoring import entities_report, sentiment_report
from models.synth.emails import SyntheticEmail, entity_examples, generate_emails, sentiment_examples
from models.vocabulary import ENTITY_FIELDS, SENTIMENTS

PEER_CONCURRENCY = 8  # emails in flight in the peer (each sends 2 requests, then 1)
SHOTS = 3
ROUNDS = 2
SEED = 5  # the synthetic eval emails of the first round (bench.py's seed); round i: SEED + i
WARM_SEED = 99
SENTIMENT_MAX_TOKENS = 5
ENTITIES_MAX_TOKENS = 160  # replyd's entities bound
# A CPU server answers the last of a burst of requests after minutes, not seconds.
TIMEOUT_S = 900.0
PEER_POLL_INTERVAL_MS = 3_600_000

SENTIMENT_SYSTEM = ("Classify the sentiment of the customer email as positive, negative or "
                    "neutral. Answer with one word.")
ENTITIES_SYSTEM = ("Extract the people named, the products mentioned and the places mentioned in "
                   'the customer email. Answer with JSON: {"name": [...], "product": [...], '
                   '"location": [...]}.')
REPLY_SYSTEM = ("You are a customer support agent. Write a short, polite reply to the customer "
                "email.")
_LABEL = re.compile(r"\b(" + "|".join(SENTIMENTS) + r")\b", re.IGNORECASE)

Shot = tuple[str, str]  # (email text, answer)


# -- prompts and parsing: what the peer's author writes -------------------------------------------


def shots(k: int = SHOTS) -> tuple[list[Shot], list[Shot]]:
    """Solved sentiment and entities examples from the training split (never the eval emails)."""
    return ([(e["text"], e["label"]) for e in sentiment_examples(k, seed=0)],
            [(e["text"], json.dumps(e["entities"])) for e in entity_examples(k, seed=0)])


def email_text(subject: str, body: str) -> str:
    return f"Subject: {subject}\n\n{body}" if subject else body


def few_shot(system: str, examples: Sequence[Shot], text: str) -> list[dict[str, str]]:
    """A system turn, each example as a user/assistant pair, then the email."""
    turns = [{"role": "system", "content": system}]
    for example, answer in examples:
        turns += [{"role": "user", "content": example}, {"role": "assistant", "content": answer}]
    return [*turns, {"role": "user", "content": text}]


def reply_messages(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": REPLY_SYSTEM}, {"role": "user", "content": text}]


def parse_sentiment(text: str) -> str | None:
    """The first label word in the answer; None when there is none."""
    found = _LABEL.search(text)
    return found.group(1).lower() if found else None


def parse_entities(text: str) -> dict[str, list[str]]:
    """The first ``{`` to the last ``}`` as JSON; string values of the known fields only.
    Anything unparseable counts as nothing found (the peer never fails an email on it)."""
    start, end = text.find("{"), text.rfind("}")
    try:
        data = json.loads(text[start:end + 1]) if 0 <= start < end else {}
    except json.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    return {f: [v for v in data.get(f) or [] if isinstance(v, str)]
            if isinstance(data.get(f), list) else [] for f in ENTITY_FIELDS}


# -- scoring -------------------------------------------------------------------------------------


@dataclass
class SideRun:
    """One side's figures in one round."""

    emails_per_s: float
    prompt_tokens_per_email: float
    completion_tokens_per_email: float
    sentiment_accuracy: float
    entity_f1: float
    drafted: int


def score(emails: Sequence[SyntheticEmail], drafts: dict[str, dict[str, Any]],
          rate: float) -> SideRun:
    """Figures against the labels; an email without a draft counts as wrong and as no tokens."""
    got = [drafts.get(e.message_id) for e in emails]
    tokens = [d.get("tokens") or {} for d in got if d is not None]
    return SideRun(
        emails_per_s=rate,
        prompt_tokens_per_email=sum(t.get("prompt", 0) for t in tokens) / len(emails),
        completion_tokens_per_email=sum(t.get("completion", 0) for t in tokens) / len(emails),
        sentiment_accuracy=sentiment_report(
            [e.sentiment for e in emails], [d and d.get("sentiment") for d in got])["accuracy"],
        entity_f1=entities_report(
            [e.entities for e in emails], [d and d.get("entities") for d in got])["f1"],
        drafted=len(tokens),
    )


# -- the peer ------------------------------------------------------------------------------------


@dataclass
class Peer:
    """The peer's per-email work against one server; ``model`` is the base model's name there."""

    client: httpx.AsyncClient
    model: str
    reply_max_tokens: int
    examples: tuple[list[Shot], list[Shot]] = field(default_factory=shots)

    async def chat(self, messages: list[dict[str, str]], max_tokens: int) -> tuple[str, int, int]:
        response = await self.client.post("/v1/chat/completions", json={
            "model": self.model, "messages": messages, "max_tokens": max_tokens,
            "temperature": 0.0})
        response.raise_for_status()
        data = response.json()
        usage = data["usage"]
        return (data["choices"][0]["message"]["content"] or "", usage["prompt_tokens"],
                usage["completion_tokens"])

    async def draft(self, email: dict[str, Any]) -> dict[str, Any]:
        text = email_text(email.get("subject") or "", email["body"])
        (s_text, s_in, s_out), (e_text, e_in, e_out) = await asyncio.gather(
            self.chat(few_shot(SENTIMENT_SYSTEM, self.examples[0], text), SENTIMENT_MAX_TOKENS),
            self.chat(few_shot(ENTITIES_SYSTEM, self.examples[1], text), ENTITIES_MAX_TOKENS))
        r_text, r_in, r_out = await self.chat(reply_messages(text), self.reply_max_tokens)
        return {"in_reply_to": email["message_id"], "to": email["from"],
                "subject": f"Re: {email.get('subject') or ''}", "body": r_text.strip(),
                "sentiment": parse_sentiment(s_text), "entities": parse_entities(e_text),
                "tokens": {"prompt": s_in + e_in + r_in, "completion": s_out + e_out + r_out}}


async def run_peer(settings: Settings, peer: Peer, messages: Sequence[tuple[bytes, bytes]],
                   concurrency: int) -> tuple[float, dict[str, dict[str, Any]]]:
    """Consume → three requests per email → produce → commit per fetched batch."""
    settings = _topics(settings, "peer")
    await ensure_topics(settings, [settings.input_topic, settings.drafts_topic])
    await produce(settings, settings.input_topic, list(messages))
    # One poll may fetch the whole run, handled before the next poll: the poll interval allows
    # for it (at aiokafka's default 300 s, a run of a few hundred emails on a CPU server would
    # lose its partitions to a rebalance and fail its commit).
    consumer = AIOKafkaConsumer(settings.input_topic, bootstrap_servers=settings.bootstrap_servers,
                                group_id=settings.group_id, enable_auto_commit=False,
                                auto_offset_reset="earliest",
                                max_poll_interval_ms=PEER_POLL_INTERVAL_MS)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                linger_ms=5, enable_idempotence=False)
    gate = asyncio.Semaphore(concurrency)
    drafts: dict[str, dict[str, Any]] = {}

    async def handle(value: bytes, key: bytes | None) -> None:
        async with gate:
            draft = await peer.draft(json.loads(value))
        await producer.send_and_wait(settings.drafts_topic, json.dumps(draft).encode(), key=key)
        drafts[draft["in_reply_to"]] = draft

    await consumer.start()
    await producer.start()
    try:
        started: float | None = None
        done = 0
        while done < len(messages):
            records = [r for rs in (await consumer.getmany(timeout_ms=500)).values() for r in rs]
            if not records:
                continue
            started = started or time.perf_counter()
            await asyncio.gather(*(handle(r.value or b"", r.key) for r in records))
            await consumer.commit()
            done += len(records)
        assert started is not None
        return len(messages) / (time.perf_counter() - started), drafts
    finally:
        await consumer.stop()
        await producer.stop()


# -- replyd --------------------------------------------------------------------------------------


async def run_replyd(settings: Settings, messages: Sequence[tuple[bytes, bytes]]
                     ) -> tuple[float, dict[str, dict[str, Any]]]:
    """The daemon as ``replyd run --engine openai`` runs it; its drafts read back from Kafka."""
    settings = _topics(settings, "replyd")
    await ensure_topics(settings, [settings.input_topic, settings.drafts_topic,
                                   settings.deadletter_topic])
    await produce(settings, settings.input_topic, list(messages))
    daemon = Daemon(settings, build_engine(settings), build_pipeline_config(settings))
    task = asyncio.create_task(daemon.run())
    try:
        while daemon.stats.published < len(messages):
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
    finally:
        daemon.request_stop()
        await task
    stats = daemon.stats
    assert stats.first_fetch_at is not None and stats.last_publish_at is not None
    rate = len(messages) / (stats.last_publish_at - stats.first_fetch_at)
    return rate, await read_drafts(settings, len(messages))


async def read_drafts(settings: Settings, count: int, idle_s: float = 5.0
                      ) -> dict[str, dict[str, Any]]:
    """The drafted records on the drafts topic by message_id (skipped ones are left out)."""
    consumer = AIOKafkaConsumer(settings.drafts_topic, bootstrap_servers=settings.bootstrap_servers,
                                group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    drafts: dict[str, dict[str, Any]] = {}
    try:
        quiet_since = time.monotonic()
        while len(drafts) < count and time.monotonic() - quiet_since < idle_s:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    quiet_since = time.monotonic()
                    data = json.loads(record.value or b"{}")
                    if data.get("outcome", "drafted") == "drafted":
                        drafts[data["in_reply_to"]] = data
    finally:
        await consumer.stop()
    return drafts


def _topics(settings: Settings, side: str) -> Settings:
    run = f"{side}-{uuid.uuid4().hex[:8]}"
    return settings.model_copy(update={
        "input_topic": f"in-{run}", "drafts_topic": f"drafts-{run}",
        "deadletter_topic": f"dead-{run}", "group_id": run})


# -- the comparison ------------------------------------------------------------------------------


@dataclass
class PeerResult:
    emails: int
    concurrency: int
    rounds: list[tuple[SideRun, SideRun]] = field(default_factory=list)  # (peer, replyd)
    # replyd's (max_batch_size, max_concurrent_batches): its settings, as `replyd run` has them.
    replyd_batching: tuple[int, int] = (0, 0)


def served_model(settings: Settings) -> str:
    """The base model's name on the server, as the openai engine resolves it."""
    from models.base_model import DEFAULT_MODEL_NAME

    return settings.served_model_name or (
        settings.base_model_path.name if settings.base_model_path else DEFAULT_MODEL_NAME)


async def compare(settings: Settings, url: str, n: int, concurrency: int = PEER_CONCURRENCY,
                  rounds: int = ROUNDS, step: Callable[[str], None] = lambda note: None
                  ) -> PeerResult:
    """Both sides on the same emails, server and broker, alternating; warm-up first. Each round
    has emails of its own (:func:`round_emails`): the server's prefix cache would otherwise
    serve a side's second round from its first, which no stream of new mail gets."""
    warm = generate_emails(2, seed=WARM_SEED, split="eval")
    result = PeerResult(n, concurrency)
    async with EmbeddedBroker(port=0) as broker, httpx.AsyncClient(
            base_url=url.removesuffix("/v1"), timeout=settings.engine_timeout_s) as client:
        settings = settings.model_copy(update={
            "engine": "openai", "engine_url": url, "bootstrap_servers": broker.bootstrap,
            "metrics_port": 0, "enable_idempotence": False,
            "max_inflight_emails": max(n * 2, settings.max_inflight_emails)})
        result.replyd_batching = (settings.max_batch_size, settings.max_concurrent_batches)
        peer = Peer(client, served_model(settings), settings.reply_max_tokens)
        step("warm-up (adapters load on first use)")
        await run_peer(settings, peer, [_message(e) for e in warm], concurrency)
        await run_replyd(settings, [_message(e) for e in warm])
        for i in range(rounds):
            emails = round_emails(n, i)
            messages = [_message(e) for e in emails]
            sides: dict[str, SideRun] = {}
            for side in ("peer", "replyd") if i % 2 == 0 else ("replyd", "peer"):
                step(f"round {i + 1}/{rounds}: {side}")
                if side == "peer":
                    rate, drafts = await run_peer(settings, peer, messages, concurrency)
                else:
                    rate, drafts = await run_replyd(settings, messages)
                sides[side] = score(emails, drafts, rate)
            result.rounds.append((sides["peer"], sides["replyd"]))
    return result


def round_emails(n: int, round_index: int) -> list[SyntheticEmail]:
    """The labelled emails both sides read in one round: a seed per round."""
    return generate_emails(n, seed=SEED + round_index, split="eval")


def _message(email: SyntheticEmail) -> tuple[bytes, bytes]:
    from datetime import UTC, datetime

    return email.message_id.encode(), json.dumps(email.as_incoming(datetime.now(UTC))).encode()


FIGURES = ("emails_per_s", "prompt_tokens_per_email", "completion_tokens_per_email",
           "sentiment_accuracy", "entity_f1")


def summary(result: PeerResult) -> dict[str, Any]:
    """Medians over rounds per side, and replyd ÷ peer per round for emails/s."""
    out: dict[str, Any] = {"emails": result.emails, "peer_concurrency": result.concurrency,
                           "replyd_max_batch_size": result.replyd_batching[0],
                           "replyd_max_concurrent_batches": result.replyd_batching[1],
                           "rounds": len(result.rounds)}
    for index, side in enumerate(("peer", "replyd")):
        for name in FIGURES:
            out[f"{side}_{name}"] = statistics.median(
                getattr(r[index], name) for r in result.rounds)
    ratios = [r[1].emails_per_s / r[0].emails_per_s for r in result.rounds]
    out["replyd_vs_peer_emails_per_s"] = ratios
    out["replyd_vs_peer_median"] = statistics.median(ratios)
    return out


def render_markdown(result: PeerResult, command: str) -> str:
    s = summary(result)
    rows = []
    for name in FIGURES:
        per_round = " / ".join(
            f"{getattr(p, name):.3f} vs {getattr(r, name):.3f}" for p, r in result.rounds)
        rows.append(f"| {name} | {s[f'peer_{name}']:.3f} | {s[f'replyd_{name}']:.3f} "
                    f"| {per_round} |")
    ratios = ", ".join(f"{x:.2f}" for x in s["replyd_vs_peer_emails_per_s"])
    return (
        f"## A peer to beat: replyd vs a bare aiokafka + vLLM peer, {result.emails} emails\n\n"
        f"Command: `{command}`  \nPeer: {result.concurrency} emails in flight, 3 requests per "
        f"email (few-shot sentiment and entities with {SHOTS} shots, zero-shot reply) on the base "
        f"model, no constrained decoding. replyd: `--engine openai` with its adapters, same "
        f"server, batches of up to {result.replyd_batching[0]} emails, "
        f"{result.replyd_batching[1]} at once. {len(result.rounds)} alternating rounds; "
        f"medians.\n\n"
        f"| figure | peer | replyd | per round (peer vs replyd) |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nreplyd ÷ peer, emails/s, per round: {ratios} (median "
        f"{s['replyd_vs_peer_median']:.2f}; target ≥ 2 at equal or better accuracy).\n"
    )


def cmd_peer_bench(args: argparse.Namespace,
                   replace_section: Callable[[Any, str, str], None]) -> int:
    """``replyd bench --peer [C]``; ``replace_section`` is bench's Markdown updater."""
    from daemon.cli import settings_from
    from daemon.tools.engine_bench import local_server
    from models.errors import ConfigurationError
    from models.progress import Progress

    if args.peer < 1:
        raise ConfigurationError("--peer CONCURRENCY must be at least 1")
    rounds = getattr(args, "rounds", ROUNDS)
    if rounds < 1:
        raise ConfigurationError("--rounds must be at least 1")
    settings = settings_from(args).model_copy(update={"engine_timeout_s": TIMEOUT_S})
    given = settings.engine_url if settings.engine == "openai" else None
    server: AbstractContextManager[str] = nullcontext(given) if given else local_server(settings)
    with Progress("bench --peer", total=2 + 2 * rounds, unit="steps") as progress:
        progress.step("starting the vLLM server" if not given else "connecting")
        with server as url:
            result = asyncio.run(compare(settings, url.split(",")[0], args.emails, args.peer,
                                         rounds=rounds, step=progress.step))
    section = render_markdown(result, "replyd " + " ".join(sys.argv[1:]))
    if args.out is not None:
        replace_section(args.out, "peer", section)
    print(section)
    print(json.dumps({k: [round(x, 4) for x in v] if isinstance(v, list)
                      else round(v, 4) if isinstance(v, float) else v
                      for k, v in summary(result).items()}))
    return 0
