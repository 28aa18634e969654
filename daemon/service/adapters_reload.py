"""Follow the registry's ``defaults.json`` while the daemon runs (``adapters_reload_s``).

An adapter rollout without restarts: ``replyd adapters push ID`` loads the adapter into every
vLLM server, ``replyd train --set-default`` (or an edit of ``defaults.json``, e.g. a ConfigMap)
moves the default, and every ``adapters_reload_s`` seconds this loop re-reads the defaults. A task
moves to its new adapter only when every server lists it, so a default that was changed before
the push (or whose push failed on one server) waits, logged, instead of failing emails. The
switch applies from the next batch: the batch in flight finishes on the adapters it started with.

The openai engine follows once every server lists the new ID. The in-process vLLM engine
follows too when built for it (``ReloadableVllmEngine``, which ``build_engine`` picks when
``adapters_reload_s`` is set): the new adapter is loaded into the running engine before the
switch, into one of a few spare LoRA slots (a restart frees them). The peft and echo engines
load their adapters at construction. With the ``adapters`` setting given, the IDs are pinned
and there is nothing to re-read.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from types import TracebackType
from typing import Protocol, cast

from daemon.service.build import build_pipeline_config, registry_for
from daemon.service.metrics import Metrics
from daemon.service.shadow import Shadow
from daemon.settings import Settings
from handlers.pipeline import Pipeline
from models.engines.base import AdapterInfo
from models.errors import AdapterError, ConfigurationError, EngineError

log = logging.getLogger(__name__)


class _Following(Protocol):
    """What the reloader needs of the engine (``OpenAIEngine`` has it)."""

    async def served_everywhere(self) -> set[str]: ...

    def add_adapter(self, info: AdapterInfo) -> None: ...


class _Loading(Protocol):
    """What the reloader needs of an in-process engine (``ReloadableVllmEngine`` has it)."""

    async def load_adapter(self, info: AdapterInfo) -> bool: ...


class AdapterReloader:
    """An async context: a background loop while the daemon runs, cancelled when it stops."""

    def __init__(self, settings: Settings, engine: object, pipeline: Pipeline,
                 metrics: Metrics | None = None, shadow: Shadow | None = None) -> None:
        """``shadow``: the daemon's shadow mode, whose run in flight stops with this loop."""
        self._settings = settings
        self._shadow = shadow
        self._metrics = metrics
        self._engine = engine
        self._pipeline = pipeline
        self._task: asyncio.Task[None] | None = None
        self._waiting: dict[str, str] = {}  # task → ID already logged as not served yet
        self._mode_logged: str | None = None  # the first stage the defaults asked for, logged

    @property
    def enabled(self) -> bool:
        """On when asked for, the engine can follow, and the IDs come from ``defaults.json``."""
        s = self._settings
        return (s.adapters_reload_s > 0 and s.adapters is None
                and (hasattr(self._engine, "served_everywhere")
                     or hasattr(self._engine, "load_adapter")))

    async def __aenter__(self) -> AdapterReloader:
        s = self._settings
        if self._metrics is not None:
            self._metrics.set_adapters(self._pipeline.config)
        if self.enabled:
            self._task = asyncio.create_task(self._loop(), name="replyd-adapters-reload")
        elif s.adapters_reload_s > 0:
            log.warning("adapters_reload_s is ignored: it needs engine 'openai' or 'vllm' and "
                        "adapters from the registry's defaults (the adapters setting unset)")
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        if self._shadow is not None:
            await self._shadow.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.adapters_reload_s)
            try:
                await self.check()
            except Exception:  # a bug here must not stop the daemon, nor this loop silently
                log.exception("adapters reload failed; the adapters stay as they are")

    async def check(self) -> dict[str, tuple[str | None, str | None]]:
        """Re-read the defaults once; switch every changed task whose new adapter is served.
        Returns task → (old, new) for the tasks switched. Never raises for a bad registry or
        an unreachable server: the daemon keeps its adapters and says why in the log."""
        current = self._pipeline.config
        # The joint first stage asks the "analysis" adapter, which is no task of its own; the
        # request and steering adapters ("topic", "steering") are followed too (their settings).
        followed = {*current.tasks, *(("analysis",) if current.analysis == "joint" else ()),
                    *(("topic",) if self._settings.request_adapter else ()),
                    *(("steering",) if self._settings.steering_adapter else ())}
        try:
            wanted_config = build_pipeline_config(self._settings)
            if wanted_config.analysis != current.analysis:
                # The first stage's adapters belong to the other stage now: keep them (the
                # reply and persona still follow).
                self._log_mode_once(current.analysis, wanted_config.analysis)
                followed -= {"analysis", "sentiment", "entities"}
            wanted = wanted_config.adapters
            changed: dict[str, str | None] = {
                task: wanted.get(task) for task in {*wanted, *current.adapters}
                if task in followed and current.adapters.get(task) != wanted.get(task)}
            if not changed:
                self._waiting.clear()
                return {}
            served = await self._served(changed) if any(changed.values()) else set()
        except (AdapterError, ConfigurationError, EngineError) as error:
            log.warning("adapters not reloaded: %s", error)
            return {}
        ready = {task: cid for task, cid in changed.items() if cid is None or cid in served}
        self._log_waiting({t: c for t, c in changed.items() if t not in ready and c is not None})
        if not ready:
            return {}
        registry = registry_for(self._settings)
        for cid in ready.values():
            if cid is not None and hasattr(self._engine, "add_adapter"):
                cast(_Following, self._engine).add_adapter(registry.adapter_info(cid))
        self._pipeline.config = dataclasses.replace(current,
                                                    adapters={**current.adapters, **ready})
        if self._metrics is not None:
            self._metrics.set_adapters(self._pipeline.config)
        switched = {task: (current.adapters.get(task), cid) for task, cid in ready.items()}
        for task, (old, new) in sorted(switched.items()):
            log.info("adapter switched: %s %s → %s", task, old or "base model", new or "base model")
        return switched

    def _log_mode_once(self, current: str, wanted: str) -> None:
        """The defaults now call for the other first stage (an analysis adapter added or
        removed under ``analysis`` auto): that takes a restart; said once per change."""
        if self._mode_logged == wanted:
            return
        self._mode_logged = wanted
        log.warning("the registry's defaults now give a %s first stage; this daemon keeps its "
                    "%s stage until it restarts", wanted, current)

    async def _served(self, changed: dict[str, str | None]) -> set[str]:
        """The IDs the engine can run now: every server lists them (openai), or the in-process
        engine loaded them just now (a refused load is logged; that task waits)."""
        if not hasattr(self._engine, "load_adapter"):
            return await cast(_Following, self._engine).served_everywhere()
        registry = registry_for(self._settings)
        loaded: set[str] = set()
        for cid in sorted({c for c in changed.values() if c}):
            try:
                await cast(_Loading, self._engine).load_adapter(registry.adapter_info(cid))
            except AdapterError as error:
                log.warning("adapter %s not loaded: %s", cid, error)
                continue
            loaded.add(cid)
        return loaded

    def _log_waiting(self, waiting: dict[str, str]) -> None:
        """One line per (task, ID) that waits for its push, not one every period."""
        for task, cid in sorted(waiting.items()):
            if self._waiting.get(task) != cid:
                where = ("not loaded into the running engine (restart to load it)"
                         if hasattr(self._engine, "load_adapter") else
                         f"not served by every server yet (replyd adapters push {cid})")
                log.warning("adapter %s for %s is the default but %s; staying on the current one",
                            cid, task, where)
        self._waiting = waiting
