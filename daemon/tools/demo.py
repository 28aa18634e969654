"""`replyd demo`: broker (embedded unless configured) → N synthetic emails → daemon → drafts.

Everything it starts, it stops. The daemon is the real one, in this process, with the configured
engine; the demo watches the drafts and dead-letter topics until every email it sent is
accounted for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import textwrap
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from daemon.contracts import DeadLetter, Draft
from daemon.service.build import build_engine, build_pipeline_config, build_reply_engine
from daemon.service.daemon import Daemon
from daemon.settings import Settings
from daemon.tools.broker import EmbeddedBroker
from daemon.tools.produce import produce, synthetic
from daemon.tools.topics import ensure_topics
from models.errors import ReplydError
from models.progress import Progress

log = logging.getLogger(__name__)


class DemoTimeoutError(ReplydError):
    """Not every email was accounted for before the deadline."""


@dataclass(frozen=True, slots=True)
class DemoSummary:
    sent: int
    drafts: list[Draft]
    dead_letters: list[DeadLetter]
    seconds: float

    def line(self) -> str:
        checked = [d for d in self.drafts if not d.review_reasons]
        usable = len(checked) / len(self.drafts) if self.drafts else 0.0
        reasons = Counter(r for d in self.drafts for r in d.review_reasons)
        why = ", ".join(f"{reason} {count}" for reason, count in reasons.most_common())
        return (
            f"demo: {self.sent} emails in, {len(self.drafts)} drafts out, "
            f"{len(self.dead_letters)} dead letters; usable {usable:.2f} (drafts with nothing for "
            f"a person to check), {len(self.drafts) - len(checked)} marked needs_review"
            + (f" ({why})" if why else "")
        )


async def run_demo(
    settings: Settings,
    n: int,
    seed: int = 7,
    out_dir: Path = Path("demo-out"),
    embedded_broker: bool = True,
    timeout_s: float = 1800.0,
) -> DemoSummary:
    """Run the whole path once and write the drafts to ``out_dir/drafts.jsonl``."""
    async with contextlib.AsyncExitStack() as stack:
        if embedded_broker:
            broker = await stack.enter_async_context(EmbeddedBroker(port=0))
            # The embedded broker cannot do producer idempotence.
            settings = settings.model_copy(
                update={"bootstrap_servers": broker.bootstrap, "enable_idempotence": False}
            )
        run = uuid.uuid4().hex[:8]
        settings = settings.model_copy(
            update={"group_id": f"{settings.group_id}-demo-{run}", "metrics_port": 0}
        )
        await ensure_topics(
            settings, [settings.input_topic, settings.drafts_topic, settings.deadletter_topic]
        )
        started = time.monotonic()
        messages = synthetic(n, seed)
        sent = await produce(settings, settings.input_topic, messages)
        expected = {(m.partition, m.offset) for m in sent}
        ids = {key.decode() for key, _ in messages if key}

        daemon = Daemon(settings, build_engine(settings), build_pipeline_config(settings),
                        reply_engine=build_reply_engine(settings))
        daemon_task = asyncio.create_task(daemon.run(), name="replyd-daemon")
        try:
            with Progress("demo", total=n, unit="emails done") as progress:
                drafts, dead = await asyncio.wait_for(
                    _collect(settings, ids, expected, daemon_task, progress), timeout_s
                )
        except TimeoutError as exc:
            raise DemoTimeoutError(f"not every email was drafted within {timeout_s:.0f}s") from exc
        finally:
            daemon.request_stop()
            await daemon_task
        summary = DemoSummary(n, drafts, dead, time.monotonic() - started)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "drafts.jsonl").open("w", encoding="utf-8") as handle:
        for draft in summary.drafts:
            handle.write(draft.model_dump_json(by_alias=True) + "\n")
    return summary


async def _collect(
    settings: Settings,
    ids: set[str],
    expected: set[tuple[int, int]],
    daemon_task: asyncio.Task[None],
    progress: Progress | None = None,
) -> tuple[list[Draft], list[DeadLetter]]:
    """Read drafts and dead letters until each sent email has one (or the daemon stops)."""
    consumer = AIOKafkaConsumer(
        settings.drafts_topic,
        settings.deadletter_topic,
        **settings.kafka_common(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    drafts: dict[str, Draft] = {}
    dead: dict[tuple[int, int], DeadLetter] = {}
    try:
        while len(drafts) + len(dead) < len(ids):
            if daemon_task.done():
                daemon_task.result()  # raises the daemon's error, if that is why it stopped
                raise ReplydError("the daemon stopped before every email was drafted")
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    if tp.topic == settings.drafts_topic:
                        draft = Draft.model_validate_json(record.value or b"")
                        if draft.in_reply_to in ids:
                            drafts[draft.in_reply_to] = draft
                    else:
                        letter = DeadLetter.model_validate_json(record.value or b"")
                        key = (letter.source.partition, letter.source.offset)
                        if letter.source.topic == settings.input_topic and key in expected:
                            dead[key] = letter
            if progress is not None:
                progress.update_to(len(drafts) + len(dead))
    finally:
        await consumer.stop()
    return sorted(drafts.values(), key=lambda d: d.in_reply_to), list(dead.values())


def render_table(summary: DemoSummary, width: int = 100) -> str:
    """A readable table of the drafts for the terminal."""
    lines = [f"{'sentiment':<9}  {'name':<22} {'products':<30} draft", "-" * width]
    for draft in summary.drafts:
        name = ", ".join(draft.entities.name)[:22] or "-"
        products = ", ".join(draft.entities.product)[:30] or "-"
        body = textwrap.shorten(" ".join(draft.body.split()), width=width - 66, placeholder="…")
        review = "review " if draft.needs_review else ""
        lines.append(f"{draft.sentiment:<9}  {name:<22} {products:<30} {review}{body}")
    for letter in summary.dead_letters:
        lines.append(f"{'DEAD':<9}  offset {letter.source.offset:<15} {letter.reason:<30} {letter.error[:40]}")
    return "\n".join(lines)
