"""The one backoff policy every retry loop in replyd uses: jittered exponential delays.

It sits at the bottom of the house because both an engine (the OpenAI client's per-request
retries across a server fleet) and the service (broker start, sends, commits, transactions, an
engine that is down) retry; each loop owns its own ``Backoff`` and asks it how long to wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import random


class Backoff:
    """Delays that start at ``initial_s``, double on every call, and stop growing at ``max_s``.

    With ``jitter`` each delay is drawn uniformly from [0.5, 1.5) times the current step, so
    replicas that failed together do not retry together."""

    __slots__ = ("_jitter", "_max_s", "_step", "initial_s")

    def __init__(self, initial_s: float = 0.5, max_s: float = 30.0, jitter: bool = True) -> None:
        if initial_s < 0 or max_s < initial_s:
            raise ValueError(f"need 0 <= initial_s <= max_s, got {initial_s} and {max_s}")
        self.initial_s = initial_s
        self._max_s = max_s
        self._jitter = jitter
        self._step = initial_s

    def next_delay(self) -> float:
        """The delay before the next attempt (then the step doubles, up to ``max_s``)."""
        delay = self._step * (0.5 + random.random()) if self._jitter else self._step
        self._step = min(self._step * 2, self._max_s)
        return min(delay, self._max_s)

    def reset(self) -> None:
        """Start again from ``initial_s`` (after a success)."""
        self._step = self.initial_s

    async def wait(self, stop: asyncio.Event | None = None, at_least_s: float = 0.0) -> float:
        """Sleep the next delay (at least ``at_least_s``, e.g. a server's Retry-After); a set
        ``stop`` event ends the wait early. Returns the delay that was chosen."""
        delay = max(self.next_delay(), at_least_s)
        if stop is None:
            await asyncio.sleep(delay)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        return delay
