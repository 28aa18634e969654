"""An engine wrapper that records every ``generate`` call in the metrics catalogue.

The daemon hands its pipeline a ``MeteredEngine`` around the real engine, so the engine metrics
(batch size, queue depth, queue time, time to first token, generation time) cover every engine
call without the pipeline or the engines knowing about Prometheus.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from daemon.service.metrics import Metrics
from models.engines.base import AdapterInfo, Engine, GenerateRequest, GenerateResult


class MeteredEngine(Engine):
    """Delegates everything to ``engine``; records each successful ``generate`` call.

    Creating it points ``replyd_engine_queue_depth`` at the wrapped engine's ``queue_depth``.
    A call that raises records nothing (the pipeline retries it; the retry is recorded).
    """

    def __init__(self, engine: Engine, metrics: Metrics) -> None:
        self._engine = engine
        self._metrics = metrics
        self.name = engine.name
        metrics.watch_queue_depth(engine.queue_depth)

    @property
    def wrapped(self) -> Engine:
        """The engine that does the work."""
        return self._engine

    @property
    def base_model(self) -> str:
        return self._engine.base_model

    async def start(self) -> None:
        await self._engine.start()

    async def stop(self) -> None:
        await self._engine.stop()

    def healthy(self) -> bool:
        return self._engine.healthy()

    def adapters(self) -> Mapping[str, AdapterInfo]:
        return self._engine.adapters()

    def queue_depth(self) -> int:
        return self._engine.queue_depth()

    def context_tokens(self) -> int | None:
        return self._engine.context_tokens()

    def count_tokens(self, text: str) -> int:
        return self._engine.count_tokens(text)

    def check_adapter(self, adapter: str | None) -> None:
        self._engine.check_adapter(adapter)

    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        results = await self._engine.generate(requests)
        self._metrics.observe_engine_call(requests, results)
        return results
