"""Work on up to ``depth`` items at once, results in the order the items came; items that
waited merged into one.

The daemon runs the pipeline on more than one batch at a time (``max_concurrent_batches``):
an engine with continuous batching (vLLM, in-process or a server) is only busy when requests
are waiting, and one batch leaves it partly idle at every stage boundary (the last, longest
answers of a stage; a second try for the few drafts that failed their checks). Publishing and
committing stay in fetch order, so offsets are committed exactly as with one batch at a time.

Batches that waited while the pipeline was busy are merged (up to ``max_batch_size``) before
they go in: at a steady load each batch the fetcher forms holds the few emails of one
``max_wait_ms`` window, and run one by one they would keep the engine at a batch of one or two
while the rest wait their turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def in_order(
    next_item: Callable[[], Awaitable[T | None]],
    work: Callable[[T], Awaitable[R]],
    depth: int,
) -> AsyncIterator[tuple[T, R]]:
    """Take items from ``next_item`` until it returns None; yield ``(item, work(item))`` in the
    items' order, with at most ``depth`` works running. A work that raises raises here, in its
    turn; the works still running are cancelled when the iteration ends early."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    running: deque[tuple[T, asyncio.Task[R]]] = deque()
    try:
        exhausted = False
        while True:
            while not exhausted and len(running) < depth:
                # With work running, wait for the next item or the oldest work, whichever
                # comes first: a finished batch is published without waiting for a fetch.
                item = await _next_or_done(next_item, running[0][1] if running else None)
                if item is _DONE:
                    break
                if item is None:
                    exhausted = True
                    break
                running.append((item, asyncio.ensure_future(work(item))))  # type: ignore[arg-type]
            if not running:
                return
            item, task = running.popleft()
            yield item, await task
    finally:
        for _, task in running:
            task.cancel()
        for _, task in running:
            with contextlib.suppress(BaseException):
                await task


_DONE = object()


async def _next_or_done(next_item: Callable[[], Awaitable[T | None]],
                        oldest: asyncio.Task[R] | None) -> T | object | None:
    """The next item; or ``_DONE`` as soon as ``oldest`` has finished while none had come."""
    if oldest is None:
        return await next_item()
    if oldest.done():
        return _DONE
    fetch = asyncio.ensure_future(next_item())
    await asyncio.wait({fetch, oldest}, return_when=asyncio.FIRST_COMPLETED)
    if fetch.done():
        return fetch.result()
    fetch.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await fetch
    return _DONE


class Coalescing(Generic[T]):
    """Reads a queue whose last item is None; each read merges the items already waiting
    behind the first into it while ``merge`` accepts them (``merge(a, b)`` is the two as one,
    or None to keep ``b`` for the next read)."""

    def __init__(self, queue: asyncio.Queue[T | None],
                 merge: Callable[[T, T], T | None]) -> None:
        self._queue = queue
        self._merge = merge
        self._kept: list[T | None] = []  # an item taken but not merged: the next read's first

    async def next(self) -> T | None:
        """Cancel-safe: nothing is taken from the queue before the last await."""
        item = self._kept.pop() if self._kept else await self._queue.get()
        while item is not None and not self._queue.empty():
            waiting = self._queue.get_nowait()
            merged = None if waiting is None else self._merge(item, waiting)
            if merged is None:
                self._kept.append(waiting)
                break
            item = merged
        return item
