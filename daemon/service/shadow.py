"""Shadow mode (``shadow_adapters``): a candidate adapter answers next to the live one, before
it is promoted, on a sample of real emails.

After a batch is drafted, its sampled emails (``shadow_sample``, chosen by a hash of the message
ID, so a replay shadows the same ones) go through the candidate of each shadowed analysis task
(sentiment, entities, or a joint "analysis" candidate, whose one answer is compared as both) on
the same engine, with the text the live run quoted. Each answer is
compared with the live output and counted in ``replyd_shadow_agreement_total{task, candidate,
agreed}`` (entities also as a micro-F1 in ``replyd_shadow_entities_f1``). That is the evidence a
promotion needs: how often the candidate would have changed what customers get.

Shadow answers are never published and never touch a draft. The run is a background task that
the live batch does not wait for: its drafts are sent and committed as without shadow mode. At
most one shadow run is in flight; emails sampled while one runs are dropped and counted
(``replyd_shadow_dropped_total``), so a slow candidate costs samples, never throughput beyond
its own requests. A failed run is counted (``replyd_shadow_errors_total``) and logged by type:
no email text, address or ID reaches a log line or a label. The reply stage is not shadowed:
the live draft may be a second try, a fallback or a persona rewrite, so there is no like to
compare with.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from daemon.service.build import shadow_adapters
from daemon.service.metrics import Metrics
from daemon.settings import Settings
from handlers import analysis, entities, sentiment
from handlers.pipeline import BatchResult, Pipeline
from handlers.types import DraftText, EmailText, Entities
from models.engines.base import Engine, GenerateRequest, GenerateResult
from models.errors import OutputError
from models.vocabulary import ENTITY_FIELDS

log = logging.getLogger(__name__)

_BUILDERS = {"sentiment": sentiment.build_request, "entities": entities.build_request,
             "analysis": analysis.build_request}


def sampled(message_id: str, share: float) -> bool:
    """Whether an email is in the shadow sample: the first 8 bytes of the sha256 of its message
    ID, read as a fraction of 2**64, fall below ``share``. The same ID always gets the same
    answer, on every replica and after every restart."""
    digest = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") < share * 2**64


def entity_pairs(found: Entities) -> set[tuple[str, str]]:
    """(field, normalised value) pairs: what the entities comparison counts."""
    return {(field, entities.normalise(value))
            for field in ENTITY_FIELDS for value in getattr(found, field)}


def entities_f1(live: Entities, candidate: Entities) -> float:
    """Micro-F1 of the candidate's pairs against the live ones (1.0 when both found nothing)."""
    want, got = entity_pairs(live), entity_pairs(candidate)
    if not want and not got:
        return 1.0
    return 2 * len(want & got) / (len(want) + len(got))


@dataclass(frozen=True, slots=True)
class Comparison:
    """One shadowed (email, task): whether the candidate agreed, and the entities' F1."""

    task: str
    candidate: str
    agreed: bool
    f1: float | None = None


class Shadow:
    """Runs the candidates on sampled emails and records their agreement; inert when off."""

    def __init__(self, settings: Settings, engine: Engine, pipeline: Pipeline,
                 metrics: Metrics) -> None:
        """``engine``: the live analysis engine, unmetered (shadow requests are not live
        traffic). Raises ``ConfigurationError`` for a candidate that cannot shadow its task."""
        self._candidates = shadow_adapters(settings) if settings.shadow_adapters else {}
        self._share = settings.shadow_sample
        self._engine = engine
        self._pipeline = pipeline
        self._metrics = metrics
        self._running: asyncio.Task[None] | None = None
        if self._candidates:
            metrics.watch_shadow(self._candidates)
            log.info("shadow mode on", extra={"candidates": self._candidates,
                                              "sample": self._share})

    @property
    def enabled(self) -> bool:
        return bool(self._candidates)

    def offer(self, emails: Sequence[EmailText], result: BatchResult) -> None:
        """A drafted batch (``emails`` as given to the pipeline, with its result): start the
        shadow run of its sampled drafts, or count them dropped while a run is still going.
        Returns at once; never raises for the shadow's sake."""
        if not self._candidates:
            return
        picked = [(email, outcome) for email, outcome in zip(emails, result.outcomes, strict=True)
                  if isinstance(outcome, DraftText) and sampled(email.message_id, self._share)]
        if not picked:
            return
        if self.busy:
            self._metrics.shadow_dropped.inc(len(picked))
            return
        self._running = asyncio.create_task(self._run(picked), name="replyd-shadow")

    @property
    def busy(self) -> bool:
        return self._running is not None and not self._running.done()

    async def wait(self) -> None:
        """Until the shadow run in flight, if any, has finished and been recorded."""
        if self._running is not None:
            await asyncio.shield(self._running)

    async def close(self) -> None:
        """Cancel the run in flight (the daemon is stopping; its samples are not counted)."""
        if self._running is not None:
            self._running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._running
            self._running = None

    async def _run(self, picked: list[tuple[EmailText, DraftText]]) -> None:
        try:
            self.record(await self.compare(picked))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # an engine error, a refused request, a bug: never the batch's
            self._metrics.shadow_errors.inc(len(picked))
            log.warning("shadow run failed; drafts are unaffected",
                        extra={"error_type": type(error).__name__, "emails": len(picked)})

    async def compare(self, picked: Sequence[tuple[EmailText, DraftText]]) -> list[Comparison]:
        """Run every candidate on the picked emails in one engine call; compare each answer
        with the live outcome. Engine errors propagate."""
        texts = await asyncio.to_thread(self._prepare, [email for email, _ in picked])
        tasks = sorted(self._candidates)
        requests: list[GenerateRequest] = [
            _BUILDERS[task](text, self._candidates[task]) for text in texts for task in tasks]
        results = await self._engine.generate(requests)
        comparisons: list[Comparison] = []
        for i, (text, (_, live)) in enumerate(zip(texts, picked, strict=True)):
            for j, task in enumerate(tasks):
                result = results[i * len(tasks) + j]
                if task == "analysis":
                    comparisons += self._compare_joint(result, text, live)
                else:
                    comparisons.append(self._compare(task, result, text, live))
        return comparisons

    def record(self, comparisons: Sequence[Comparison]) -> None:
        for c in comparisons:
            self._metrics.shadow_agreement.labels(c.task, c.candidate, str(c.agreed).lower()).inc()
            if c.f1 is not None:
                self._metrics.shadow_entities_f1.labels(c.candidate).observe(c.f1)

    def _prepare(self, emails: Sequence[EmailText]) -> list[EmailText]:
        """What the live analysis prompts quoted: the pipeline's own preparation."""
        return [prepared.analysed for prepared in self._pipeline.prepare(emails)]

    def _compare_joint(self, result: GenerateResult, text: EmailText,
                       live: DraftText) -> list[Comparison]:
        """A joint candidate's one answer, counted as a sentiment and an entities comparison."""
        candidate = self._candidates["analysis"]
        try:
            said, found = analysis.parse(result, text)
        except OutputError:
            return [Comparison("sentiment", candidate, False),
                    Comparison("entities", candidate, False, 0.0)]
        return [Comparison("sentiment", candidate, said == live.sentiment),
                _entities_comparison(candidate, found, text, live)]

    def _compare(self, task: str, result: GenerateResult, text: EmailText,
                 live: DraftText) -> Comparison:
        """An answer the live parser rejects disagrees (the live run had a usable one)."""
        candidate = self._candidates[task]
        if task == "sentiment":
            try:
                return Comparison(task, candidate, sentiment.parse(result) == live.sentiment)
            except OutputError:
                return Comparison(task, candidate, False)
        try:
            found = entities.parse(result, text)
        except OutputError:
            return Comparison(task, candidate, False, 0.0)
        return _entities_comparison(candidate, found, text, live)


def _entities_comparison(candidate: str, found: Entities, text: EmailText,
                         live: DraftText) -> Comparison:
    """The candidate's entities, completed as the live run completes them (the sender's display
    name), against the live ones."""
    found = entities.with_display_name(found, text.from_name)
    return Comparison("entities", candidate, entity_pairs(found) == entity_pairs(live.entities),
                      entities_f1(live.entities, found))
