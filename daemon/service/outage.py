"""An engine outage as the daemon sees it: when a batch's retriable engine failures stop being
"transient" and become "the engine is down", and a bounded log of it.

Retriable engine errors (no connection, timeouts, 429, 5xx) never dead-letter a batch: the
daemon holds the batch, uncommitted, and retries it with backoff until the engine answers or the
process is asked to stop. An engine that reports itself unhealthy is down at once; one that
reports itself healthy but keeps failing is down after ``engine_retry_deadline_s``. While down,
``/readyz`` reports the engine false; the log gets one line when it goes down, one every
``LOG_EVERY_S`` while it stays down, and one when it is back.

An engine that keeps failing one batch while it answers a probe is not down: the batch's failing
emails are isolated and dead-lettered instead (:mod:`daemon.service.isolate`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from models.retry import Backoff

log = logging.getLogger("daemon.service.daemon")

LOG_EVERY_S = 60.0
_MAX_OUTAGE_BACKOFF_S = 10.0


class EngineOutage:
    """Tracks consecutive retriable failures of one batch's engine calls."""

    def __init__(
        self, deadline_s: float, initial_backoff_s: float, engine_healthy: Callable[[], bool]
    ) -> None:
        self._deadline_s = deadline_s
        self._initial_s = initial_backoff_s
        self._healthy = engine_healthy
        self.down = False
        self._since: float | None = None  # first failure of the current run of failures
        self._logged_at = 0.0
        self._attempts = 0
        self._backoff = Backoff(initial_backoff_s, max(initial_backoff_s, _MAX_OUTAGE_BACKOFF_S))

    async def failed(self, exc: BaseException, stop: asyncio.Event) -> None:
        """One more retriable failure: update the state, log if due, wait the backoff."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
        self._attempts += 1
        if not self.down and (not self._healthy() or now - self._since >= self._deadline_s):
            self.down = True
            self._logged_at = now
            log.warning(
                "engine unavailable; holding the batch uncommitted until it answers",
                extra={"error": _short(exc), "attempts": self._attempts},
            )
        elif self.down and now - self._logged_at >= LOG_EVERY_S:
            self._logged_at = now
            log.warning(
                "engine still unavailable",
                extra={"error": _short(exc), "attempts": self._attempts,
                       "down_s": round(now - self._since, 1)},
            )
        await self._backoff.wait(stop)

    def recovered(self) -> None:
        """The engine answered: back to normal (logs the end of an outage)."""
        if self.down and self._since is not None:
            log.warning(
                "engine back; resuming",
                extra={"attempts": self._attempts,
                       "down_s": round(time.monotonic() - self._since, 1)},
            )
        self.down = False
        self._since = None
        self._attempts = 0
        self._backoff.reset()


def _short(exc: BaseException) -> str:
    """The error's text, bounded (engine errors carry URLs and status lines, never emails)."""
    return str(exc)[:300]
