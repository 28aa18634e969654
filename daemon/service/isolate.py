"""Running one batch through the pipeline: waiting out an engine outage, and telling an outage
from a batch that holds an email the engine fails on every time.

A retriable engine error (no connection, timeout, 429, 5xx) usually means the engine is
unavailable: the batch is held uncommitted and retried with backoff (:mod:`outage`), never
dead-lettered. But a server can also answer 5xx to one request every time (a prompt that crashes a
worker, a bug some bytes trigger); held like an outage, that one email would stop its partition,
and with it the fleet, for ever.

So once a batch has failed for ``engine_retry_deadline_s``, every engine in use is *probed* with a
tiny request of its own (one token, a fixed prompt, no adapter). If a probe fails, it is an
outage: wait as before. If every probe answers, the engine serves other work and the failure is
the batch's: its emails are re-run in halves (a bisection), each half with up to
``PART_RETRIES`` retries and backoff, at most ``ceil(log2(n)) + 1`` levels deep. The emails whose
requests keep failing become ``engine_request`` dead letters; the rest are drafted. Before any
email is condemned the engines are probed again, so an outage that begins mid-way sends the whole
batch back to waiting (nothing is dead-lettered for it). A stop request ends every wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from daemon.service.outage import EngineOutage
from handlers.pipeline import BatchResult
from handlers.types import DraftText, EmailText, TaskFailure, Usage
from models.engines.base import Engine, GenerateRequest, Message, SamplingParams
from models.errors import EngineDeadError, EngineError, ReplydError
from models.retry import Backoff

log = logging.getLogger("daemon.service.daemon")

# Retries of a failing part of a batch, at each level of the bisection (so 1 + 2 attempts).
PART_RETRIES = 2
_MAX_BACKOFF_S = 10.0
# What a probe asks: fixed and short, so it cannot be what the engine fails on.
PROBE = GenerateRequest(messages=(Message("user", "Reply with OK."),),
                        sampling=SamplingParams(max_tokens=1))
POISON_ERROR = ("the engine failed this email's requests repeatedly (retriable errors such as "
                "5xx) while it answered other requests")

RunBatch = Callable[[Sequence[EmailText]], Awaitable[BatchResult]]


class _StoppedServing(Exception):
    """A probe failed during the bisection: an outage, not a bad email."""

    def __init__(self, cause: EngineError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class BatchRunner:
    """Runs batches through the pipeline until each is drafted (waiting out outages) or its
    failing emails are isolated. Raises ``EngineDeadError`` (a dead engine, or a stop request
    while the engine fails) and a non-retriable ``EngineError`` of the whole batch."""

    def __init__(
        self,
        run: RunBatch,
        engines: Sequence[Engine],
        outage: EngineOutage,
        deadline_s: float,
        initial_backoff_s: float,
        stop: asyncio.Event,
    ) -> None:
        """``run``: the pipeline; ``engines``: every engine it uses, as the probes reach them
        (unmetered: a probe is not traffic); ``stop``: set when the process is asked to stop."""
        self._run = run
        self._engines = tuple(engines)
        self._outage = outage
        self._deadline_s = deadline_s
        self._initial_s = initial_backoff_s
        self._stop = stop
        self.isolated = 0  # emails dead-lettered by a bisection so far (for tests and benches)

    async def run(self, texts: Sequence[EmailText]) -> BatchResult:
        """The batch's result, as long as it takes; see the module docstring."""
        first_failure: float | None = None
        while True:
            try:
                result = await self._run(texts)
                self._outage.recovered()
                return result
            except EngineDeadError:
                raise
            except EngineError as exc:
                if not exc.retriable:
                    raise
                error = exc
            self._check_stop(error)
            now = time.monotonic()
            first_failure = now if first_failure is None else first_failure
            if now - first_failure >= self._deadline_s and await self.probe():
                self._outage.recovered()  # the engine answers: not an outage
                try:
                    return await self._isolate(texts)
                except _StoppedServing as stopped:
                    error = stopped.cause
                    log.warning("engine stopped answering during the isolation; holding the "
                                "whole batch", extra={"emails": len(texts)})
            await self._outage.failed(error, self._stop)

    async def probe(self) -> bool:
        """Whether every engine answers a one-token request now. A stop request, a retriable
        error, a refusal or no answer within ``max(deadline, 1 s)`` is a no; a dead engine
        raises."""
        for engine in self._engines:
            call = asyncio.ensure_future(engine.generate([PROBE]))
            stopping = asyncio.ensure_future(self._stop.wait())
            done, _ = await asyncio.wait({call, stopping}, timeout=max(self._deadline_s, 1.0),
                                         return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if call not in done:
                call.cancel()
                with contextlib.suppress(asyncio.CancelledError, ReplydError):
                    await call
                return False
            try:
                call.result()
            except EngineDeadError:
                raise
            except ReplydError as exc:
                log.debug("engine probe failed", extra={"engine": engine.name,
                                                       "error": str(exc)[:300]})
                return False
        return True

    async def _isolate(self, texts: Sequence[EmailText]) -> BatchResult:
        """Bisect the batch until the emails whose requests keep failing are found."""
        n = len(texts)
        started = time.monotonic()
        log.warning("engine answers other requests but keeps failing this batch; isolating "
                    "the failing emails", extra={"emails": n})
        done: list[tuple[list[int], BatchResult]] = []
        failed: dict[int, TaskFailure] = {}
        suspects = [list(range(n))]  # parts that failed repeatedly while the engine served
        for _ in range(math.ceil(math.log2(n)) + 1 if n > 1 else 1):
            splittable = [part for part in suspects if len(part) > 1]
            if not splittable:
                break
            suspects = [part for part in suspects if len(part) == 1]
            for part in splittable:
                half = len(part) // 2
                for rows in (part[:half], part[half:]):
                    outcome = await self._try_part(texts, rows)
                    if isinstance(outcome, BatchResult):
                        done.append((rows, outcome))
                    elif outcome.retriable:
                        suspects.append(rows)
                    else:  # deterministic for this part, as for a whole batch
                        failed.update({i: TaskFailure("engine_error", "engine", str(outcome))
                                       for i in rows})
        for rows in suspects:
            failed.update({i: TaskFailure("engine_request", "engine", POISON_ERROR) for i in rows})
        condemned = sorted(i for rows in suspects for i in rows)
        self.isolated += len(condemned)
        log.warning("isolation done; dead-lettering the emails the engine keeps failing",
                    extra={"emails": n, "dead_lettered": len(condemned),
                           "positions": condemned[:20],
                           "engine_error": len(failed) - len(condemned),
                           "isolate_s": round(time.monotonic() - started, 3)})
        return merge(n, done, failed)

    async def _try_part(
        self, texts: Sequence[EmailText], rows: list[int]
    ) -> BatchResult | EngineError:
        """The part's result, or its last error once it failed ``1 + PART_RETRIES`` times and
        the engines still answer probes (``_StoppedServing`` when they do not)."""
        backoff = Backoff(self._initial_s, max(self._initial_s, _MAX_BACKOFF_S))
        for attempt in range(1 + PART_RETRIES):
            try:
                return await self._run([texts[i] for i in rows])
            except EngineDeadError:
                raise
            except EngineError as exc:
                if not exc.retriable:
                    return exc
                error = exc
            self._check_stop(error)
            if attempt < PART_RETRIES:
                await backoff.wait(self._stop)
                self._check_stop(error)
        if not await self.probe():
            self._check_stop(error)
            raise _StoppedServing(error)
        return error

    def _check_stop(self, error: EngineError) -> None:
        """A stop request while the engine fails: exit without committing (as in an outage)."""
        if self._stop.is_set():
            raise EngineDeadError(f"engine unavailable at shutdown: {error}") from error


def merge(n: int, parts: Sequence[tuple[list[int], BatchResult]],
          failed: dict[int, TaskFailure]) -> BatchResult:
    """One result for the batch from its parts' results (rows: positions in the batch) and the
    emails that failed outright: outcomes in batch order, costs and counts summed."""
    outcomes: dict[int, DraftText | TaskFailure] = dict(failed)
    stage_seconds: Counter[str] = Counter()
    usage: dict[str, Usage] = {}
    drafts: Counter[str] = Counter()
    checks: Counter[str] = Counter()
    personas: Counter[str] = Counter()
    for rows, result in parts:
        outcomes.update(zip(rows, result.outcomes, strict=True))
        stage_seconds.update(result.stage_seconds)
        for task, spent in result.usage_by_task.items():
            usage[task] = usage.get(task, Usage()) + spent
        drafts.update(result.draft_outcomes)
        checks.update(result.check_failures)
        personas.update(result.persona_outcomes)
    if sorted(outcomes) != list(range(n)):
        raise AssertionError(f"outcomes for batch positions {sorted(outcomes)}, expected {n}")
    return BatchResult([outcomes[i] for i in range(n)], dict(stage_seconds), usage, drafts,
                       checks, personas)
