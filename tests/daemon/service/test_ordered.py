"""Work on several items at once, results in order; waiting items merged (the daemon's batches)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiokafka import TopicPartition

from daemon.service.ordered import Coalescing, in_order
from daemon.service.publisher import Batch


class _Work:
    """Sleeps per item for the given time; records how many run at once and what ran."""

    def __init__(self, delays: dict[int, float]) -> None:
        self.delays = delays
        self.running = 0
        self.most = 0
        self.started: list[int] = []
        self.finished: list[int] = []
        self.cancelled: list[int] = []

    async def __call__(self, item: int) -> int:
        self.started.append(item)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(self.delays.get(item, 0.001))
        except asyncio.CancelledError:
            self.cancelled.append(item)
            raise
        finally:
            self.running -= 1
        if item < 0:
            raise RuntimeError(f"item {item} failed")
        self.finished.append(item)
        return item * 10


def _queue(items: list[int]) -> asyncio.Queue[int | None]:
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    for item in [*items, None]:
        queue.put_nowait(item)
    return queue


@pytest.mark.parametrize("depth", [1, 2, 3, 8])
async def test_results_come_in_item_order_with_at_most_depth_running(depth: int) -> None:
    # The first item is the slowest: later ones finish first when they run beside it.
    work = _Work({0: 0.2, 1: 0.05, 2: 0.001, 3: 0.1})
    queue = _queue(list(range(10)))
    got = [pair async for pair in in_order(queue.get, work, depth)]
    assert got == [(i, i * 10) for i in range(10)]
    assert work.most == min(depth, 10)
    if depth > 1:
        assert work.finished[0] != 0  # ran side by side, finished out of order
    else:
        assert work.finished == list(range(10))


async def test_a_finished_item_is_yielded_without_waiting_for_the_next_one() -> None:
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    queue.put_nowait(1)
    results = in_order(queue.get, _Work({}), depth=4)
    # Nothing more comes in: the first result must still arrive, not wait for a second item.
    assert await asyncio.wait_for(results.__anext__(), 5) == (1, 10)
    queue.put_nowait(2)
    queue.put_nowait(None)
    assert [pair async for pair in results] == [(2, 20)]
    assert queue.empty()  # the wait for an item that was given up took nothing away


async def test_items_arriving_slowly_are_each_worked_on_once() -> None:
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    work = _Work({i: 0.003 * (i % 4) for i in range(40)})

    async def feed() -> None:
        for i in range(40):
            queue.put_nowait(i)
            await asyncio.sleep(0.002 * (i % 3))
        queue.put_nowait(None)

    feeder = asyncio.create_task(feed())
    got = [item async for item, _ in in_order(queue.get, work, depth=3)]
    await feeder
    assert got == list(range(40))
    assert sorted(work.started) == list(range(40))


async def test_a_failing_item_raises_in_its_turn_and_cancels_the_rest() -> None:
    # Item -1 fails fast, but item 0 before it is published first; items after it are cancelled.
    work = _Work({0: 0.05, -1: 0.001, 2: 5.0})
    queue = _queue([0, -1, 2])
    got = []
    with pytest.raises(RuntimeError, match="item -1 failed"):
        async for pair in in_order(queue.get, work, depth=3):
            got.append(pair)
    assert got == [(0, 0)]
    assert work.cancelled == [2]
    assert work.running == 0


async def test_a_consumer_that_stops_early_cancels_the_running_work() -> None:
    work = _Work({0: 0.001, 1: 5.0, 2: 5.0})
    results = in_order(_queue([0, 1, 2]).get, work, depth=3)
    assert await results.__anext__() == (0, 0)
    await results.aclose()
    assert sorted(work.cancelled) == [1, 2]
    assert work.running == 0


async def test_depth_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="depth must be >= 1"):
        await in_order(_queue([]).get, _Work({}), depth=0).__anext__()


def _merge_up_to(limit: int) -> Callable[[list[int], list[int]], list[int] | None]:
    return lambda a, b: a + b if len(a) + len(b) <= limit else None


async def test_items_that_waited_are_merged_up_to_the_limit_in_order() -> None:
    queue: asyncio.Queue[list[int] | None] = asyncio.Queue()
    for item in ([1], [2, 3], [4], [5, 6, 7], [8], None):
        queue.put_nowait(item)
    fetched = Coalescing(queue, _merge_up_to(4))
    reads = []
    while (item := await fetched.next()) is not None:
        reads.append(item)
    # [5, 6, 7] did not fit beside [1..4]: kept whole for the next read, nothing lost or split.
    assert reads == [[1, 2, 3, 4], [5, 6, 7, 8]]


async def test_a_lone_item_is_not_held_back_waiting_for_company() -> None:
    queue: asyncio.Queue[list[int] | None] = asyncio.Queue()
    fetched = Coalescing(queue, _merge_up_to(10))
    queue.put_nowait([1])
    assert await asyncio.wait_for(fetched.next(), 5) == [1]
    reading = asyncio.ensure_future(fetched.next())
    await asyncio.sleep(0.01)
    reading.cancel()  # in_order gives up a read when a work finishes first: nothing is lost
    with pytest.raises(asyncio.CancelledError):
        await reading
    queue.put_nowait([2])
    queue.put_nowait(None)
    assert await fetched.next() == [2]
    assert await fetched.next() is None


def test_batches_merge_only_within_the_limit_and_the_same_partition_epochs() -> None:
    tp0, tp1 = TopicPartition("in", 0), TopicPartition("in", 1)

    def batch(n: int, epochs: dict[TopicPartition, int]) -> Batch:
        return Batch([object()] * n, epochs)  # type: ignore[list-item]

    merged = batch(2, {tp0: 1}).merged(batch(3, {tp0: 1, tp1: 4}), limit=5)
    assert merged is not None
    assert len(merged.records) == 5 and merged.epochs == {tp0: 1, tp1: 4}
    assert batch(2, {tp0: 1}).merged(batch(4, {tp0: 1}), limit=5) is None  # too many
    assert batch(2, {tp0: 1}).merged(batch(1, {tp0: 2}), limit=5) is None  # reassigned between
