"""The transformers + peft engine: padded batches, many LoRA adapters in one batch.

How it works:

* ``start`` loads the base model and tokenizer in a worker thread. With adapters, all of them are
  wrapped in one ``PeftModel`` so a batch can mix adapters row by row via
  ``generate(..., adapter_names=[...])`` (``"__base__"`` = no adapter).
* ``generate`` renders chat messages with the tokenizer's chat template, groups requests with the
  same sampling settings, sorts each group by prompt length (less padding) and runs batches of at
  most ``max_batch_size`` left-padded rows, one batch at a time (a ``threading.Lock`` guards the
  model, so even a cancelled caller cannot overlap two batches). Every row stops on its own: at
  EOS, at a stop string, or at its own ``max_tokens``; the batch runs until its longest row ends.
* Counting follows vLLM: ``completion_tokens`` includes the EOS token or the token that completed
  a stop string; the stop string itself is cut from the text.
* Timing, from the ``generate`` call's start: a row's ``queue_s`` ends when its batch gets the
  model (after the earlier batches, of this call or another), its ``ttft_s`` when the batch's
  first generation step is done (prefill + one token) and its ``total_s`` when the batch ends.

Structured output masks each constrained row's logits with the grammar that
:mod:`models.engines.peft_grammar` compiles from its ``Constraint``; unconstrained rows in the same
batch are left alone. Rows with a ``choices`` constraint always run until a choice is complete
(their token limit is raised to the longest choice's byte length + 1, as every constrained token
emits at least one byte) and ignore stop strings, so their text is exactly one of the choices. A
JSON row can still hit ``max_tokens`` and return truncated JSON (``finish_reason == "length"``).

Sampling settings are applied by this module's own logits processors after the grammar mask:
transformers would otherwise run top-k/top-p before a custom mask, which can leave a row with no
allowed token. With a ``seed`` the whole batch is seeded, so sampled output is reproducible for the
same batch composition only.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    StoppingCriteria,
    StoppingCriteriaList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from models.base_model import model_id
from models.engines.base import (
    AdapterInfo,
    Constraint,
    Engine,
    GenerateRequest,
    GenerateResult,
    PendingRequests,
    RequestTiming,
    SamplingParams,
    estimate_tokens,
)
from models.engines.peft_grammar import Grammars
from models.engines.peft_scores import FirstScores, top_logprobs
from models.errors import (
    AdapterError,
    ConfigurationError,
    EngineDeadError,
    EngineError,
    ReplydError,
    UnsupportedRequestError,
)

BASE_ADAPTER_NAME = "__base__"
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(slots=True)
class _Row:
    """One request, tokenized and ready to batch."""

    index: int
    ids: list[int]
    adapter: str
    sampling: SamplingParams
    grammar: Any  # xgrammar.CompiledGrammar | None
    max_new: int
    stops: tuple[str, ...]


class PeftEngine(Engine):
    """Engine on transformers + peft, for CPU hosts and as a reference for the vLLM engine."""

    name = "peft"

    def __init__(
        self,
        model_path: Path,
        adapters: Mapping[str, AdapterInfo] = MappingProxyType({}),
        dtype: str = "float32",
        max_batch_size: int = 32,
        torch_threads: int | None = None,
        device: str = "cpu",
    ) -> None:
        if dtype not in _DTYPES:
            raise ConfigurationError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        if max_batch_size < 1:
            raise ConfigurationError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if torch_threads is not None and torch_threads < 1:
            raise ConfigurationError(f"torch_threads must be >= 1, got {torch_threads}")
        for key, info in adapters.items():
            if key != info.customization_id:
                raise ConfigurationError(
                    f"adapter key {key!r} differs from its customization_id "
                    f"{info.customization_id!r}"
                )
            if key == BASE_ADAPTER_NAME:
                raise ConfigurationError(f"{BASE_ADAPTER_NAME!r} is reserved for the base model")
        self._model_path = Path(model_path)
        self._adapters: Mapping[str, AdapterInfo] = MappingProxyType(dict(adapters))
        self._dtype = _DTYPES[dtype]
        self._max_batch_size = max_batch_size
        self._torch_threads = torch_threads
        self._device = torch.device(device)
        self._lock = threading.Lock()
        self._model: Any = None
        self._mixed_batches = True
        self._tokenizer: Any = None
        self._eos_ids: frozenset[int] = frozenset()
        self._pad_id = 0
        self._vocab_size = 0
        self._max_len = 0
        self._grammars: Grammars | None = None
        self._healthy = False
        self._pending = PendingRequests()

    @property
    def base_model(self) -> str:
        """The base model's folder name."""
        return model_id(self._model_path)

    def adapters(self) -> Mapping[str, AdapterInfo]:
        """The adapters loaded at start, by customization ID."""
        return self._adapters

    def healthy(self) -> bool:
        """True between a successful ``start`` and ``stop``."""
        return self._healthy

    def context_tokens(self) -> int | None:
        return self._max_len or None

    def count_tokens(self, text: str) -> int:
        """Tokens by the model's own tokenizer (an upper bound before ``start``)."""
        if self._tokenizer is None:
            return estimate_tokens(text)
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def queue_depth(self) -> int:
        """Requests of ``generate`` calls whose batch has not finished yet."""
        return self._pending.count

    async def start(self) -> None:
        """Load tokenizer, model and adapters off the event loop.

        Raises ``AdapterError`` for an adapter folder without safetensors weights and
        ``EngineDeadError`` for any other failure to load.
        """
        if self._model is not None:
            return
        for info in self._adapters.values():
            _check_adapter_dir(info)
        if self._torch_threads is not None:
            torch.set_num_threads(self._torch_threads)
        try:
            await asyncio.to_thread(self._load)
        except ReplydError:
            raise
        except Exception as error:
            raise EngineDeadError(
                f"the peft engine could not load {self._model_path}: {error!r}"
            ) from error
        self._healthy = True

    async def stop(self) -> None:
        """Free the model; waits for a running batch. Safe to call twice and before ``start``."""
        self._healthy = False
        if self._model is None and self._tokenizer is None:
            return
        await asyncio.to_thread(self._release)

    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        """Run the requests in batches, one batch at a time, and return results in order."""
        if not self._healthy:
            raise EngineDeadError("the peft engine is not running")
        for request in requests:
            self.check_adapter(request.adapter)
        if not requests:
            return []
        submitted = time.perf_counter()
        with self._pending.hold(len(requests)) as done:
            rows = await asyncio.to_thread(self._locked, self._prepare, requests)
            results: list[GenerateResult | None] = [None] * len(requests)
            for batch in self._batches(rows):
                outputs = await asyncio.to_thread(self._locked, self._run_batch, batch, submitted)
                for row, result in zip(batch, outputs, strict=True):
                    results[row.index] = result
                done(len(batch))
        # Every row belongs to exactly one batch, so every slot is filled.
        return cast(list[GenerateResult], results)

    # -- worker-thread side -------------------------------------------------------------------

    def _locked(self, function: Any, *args: Any) -> Any:
        # Tokenizers and the model are not thread-safe; the lock also keeps batches one at a time.
        with self._lock:
            if self._model is None:
                raise EngineDeadError("the peft engine was stopped")
            try:
                return function(*args)
            except ReplydError:
                raise
            except Exception as error:
                raise EngineError(f"peft generation failed: {error!r}") from error

    def _load(self) -> None:
        tokenizer = AutoTokenizer.from_pretrained(self._model_path)
        model = AutoModelForCausalLM.from_pretrained(self._model_path, dtype=self._dtype)
        infos = list(self._adapters.values())
        if infos:
            from peft import PeftModel

            model = PeftModel.from_pretrained(
                model, infos[0].path, adapter_name=infos[0].customization_id
            )
            for info in infos[1:]:
                model.load_adapter(info.path, adapter_name=info.customization_id)
        # Mixed-adapter batches (adapter_names) work for LoRA only; p-tuning batches per adapter.
        self._mixed_batches = all(info.method == "lora" for info in infos)
        model.to(self._device)
        model.eval()
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        if tokenizer.eos_token_id is not None:
            eos_ids.add(tokenizer.eos_token_id)
        if not eos_ids:
            raise EngineDeadError(f"{self._model_path} defines no EOS token")
        pad = tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else min(eos_ids)
        self._eos_ids = frozenset(eos_ids)
        text_config = model.config.get_text_config()
        self._vocab_size = text_config.vocab_size
        self._max_len = text_config.max_position_embeddings
        grammars = Grammars.for_tokenizer(tokenizer, self._vocab_size, self._eos_ids)
        with self._lock:
            self._grammars = grammars
            self._tokenizer, self._model = tokenizer, model

    def _release(self) -> None:
        with self._lock:
            self._model = None
            self._tokenizer = None
            self._grammars = None
        gc.collect()

    def _prepare(self, requests: Sequence[GenerateRequest]) -> list[_Row]:
        rows = []
        for index, request in enumerate(requests):
            if request.messages is not None:
                text = self._tokenizer.apply_chat_template(
                    [{"role": m.role, "content": m.content} for m in request.messages],
                    tokenize=False,
                    add_generation_prompt=True,
                )
                # The template already wrote every special token the model expects.
                ids = self._tokenizer(text, add_special_tokens=False)["input_ids"]
            else:
                ids = self._tokenizer(request.prompt)["input_ids"]
            if not ids:
                raise UnsupportedRequestError(f"request {index} has an empty prompt")
            sampling = request.sampling
            if len(ids) + sampling.max_tokens > self._max_len:
                # Refused rather than failing inside torch: a retried batch would fail again.
                raise UnsupportedRequestError(
                    f"request {index}: {len(ids)} prompt tokens + max_tokens "
                    f"{sampling.max_tokens} exceed the model's {self._max_len} positions"
                )
            grammar, max_new, stops = None, sampling.max_tokens, sampling.stop
            constraint = request.constraint
            if constraint is not None:
                grammar = self._compile(constraint)
                if constraint.choices is not None:
                    longest = max(len(choice.encode("utf-8")) for choice in constraint.choices)
                    max_new, stops = max(max_new, longest + 1), ()
            adapter = request.adapter or BASE_ADAPTER_NAME
            rows.append(_Row(index, ids, adapter, sampling, grammar, max_new, stops))
        return rows

    def _compile(self, constraint: Constraint) -> Any:
        if self._grammars is None:
            raise UnsupportedRequestError(
                "structured output on the peft engine needs the xgrammar package"
            )
        return self._grammars.compile(constraint)

    def _batches(self, rows: list[_Row]) -> list[list[_Row]]:
        groups: dict[tuple[Any, ...], list[_Row]] = {}
        for row in rows:
            key = _sampling_key(row.sampling)
            if not self._mixed_batches:
                key = (*key, row.adapter)  # p-tuning: one adapter per batch
            groups.setdefault(key, []).append(row)
        batches = []
        for group in groups.values():
            group.sort(key=lambda row: len(row.ids), reverse=True)
            for start in range(0, len(group), self._max_batch_size):
                batches.append(group[start : start + self._max_batch_size])
        return batches

    def _run_batch(self, batch: list[_Row], submitted: float) -> list[GenerateResult]:
        """Generate one batch; ``submitted`` is the ``perf_counter`` its call started at."""
        started = time.perf_counter()  # the lock is held: the model is ours from here
        width = max(len(row.ids) for row in batch)
        input_ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, row in enumerate(batch):
            input_ids[i, width - len(row.ids) :] = torch.tensor(row.ids, dtype=torch.long)
            attention_mask[i, width - len(row.ids) :] = 1
        sampling = batch[0].sampling
        processors = LogitsProcessorList()
        if self._grammars is not None and any(row.grammar is not None for row in batch):
            processors.append(self._grammars.mask([row.grammar for row in batch]))
        if sampling.repetition_penalty != 1.0:
            # The grammar mask only removes tokens, so its order with the penalty is irrelevant.
            processors.append(RepetitionPenaltyLogitsProcessor(sampling.repetition_penalty))
        do_sample = sampling.temperature > 0
        if do_sample:
            processors.append(TemperatureLogitsWarper(sampling.temperature))
            if sampling.top_k > 0:
                processors.append(TopKLogitsWarper(sampling.top_k))
            if sampling.top_p < 1:
                processors.append(TopPLogitsWarper(sampling.top_p))
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)
        stops = _RowStops(self._tokenizer, width, batch, self._eos_ids)
        config_args: dict[str, Any] = (
            {"temperature": 1.0, "top_k": 0, "top_p": 1.0} if do_sample else {}
        )
        # The first step's scores, after every processor (the grammar's mask included), only:
        # output_scores would keep every step of every row of a batch shared with long rows.
        first_scores = FirstScores() if any(row.sampling.logprobs for row in batch) else None
        if first_scores is not None:
            processors.append(first_scores)
        config = GenerationConfig(
            max_new_tokens=max(row.max_new for row in batch),
            do_sample=do_sample,
            pad_token_id=self._pad_id,
            eos_token_id=sorted(self._eos_ids),
            **config_args,
        )
        kwargs: dict[str, Any] = {}
        switch: Any = contextlib.nullcontext()
        if self._adapters and self._mixed_batches:
            kwargs["adapter_names"] = [row.adapter for row in batch]
        elif self._adapters:
            # Prompt-learning adapters cannot mix in one batch (peft has no adapter_names for
            # them): the batch holds one adapter, activated here, or none.
            if batch[0].adapter == BASE_ADAPTER_NAME:
                switch = self._model.disable_adapter()
            else:
                self._model.set_adapter(batch[0].adapter)
        with torch.inference_mode(), switch, warnings.catch_warnings():
            # peft warns on every prompt-learning generate that it drops position ids; it is
            # how virtual tokens work, not a problem.
            warnings.filterwarnings("ignore", "Position ids are not supported", UserWarning)
            output = self._model.generate(
                input_ids=input_ids.to(self._device),
                attention_mask=attention_mask.to(self._device),
                generation_config=config,
                logits_processor=processors,
                stopping_criteria=StoppingCriteriaList([stops]),
                **kwargs,
            )
        ended = time.perf_counter()
        tops = (top_logprobs(first_scores.scores, batch, self._tokenizer)
                if first_scores is not None and first_scores.scores is not None else None)
        first = stops.first_step_at
        timing = RequestTiming(
            queue_s=started - submitted,
            ttft_s=None if first is None else first - submitted,
            total_s=ended - submitted,
        )
        results = []
        for i, row in enumerate(batch):
            generated = output[i, width:].tolist()
            count, reason = stops.finished.get(i, (len(generated), "length"))
            text = self._tokenizer.decode(generated[:count], skip_special_tokens=True)
            cut = _first_stop(text, row.stops)
            if cut is not None:
                text, reason = text[:cut], "stop"
            results.append(GenerateResult(text, reason, len(row.ids), count, timing,
                                          tops[i] if tops else ()))
        return results


class _RowStops(StoppingCriteria):
    """Per-row stopping at EOS, stop strings and each row's own token limit.

    ``finished`` maps a batch row to (completion tokens, finish reason) when the row ended;
    ``first_step_at`` is the ``perf_counter`` of the first call, right after the batch's first
    generated token (transformers checks stopping criteria after every step).
    """

    def __init__(
        self, tokenizer: Any, prompt_width: int, batch: list[_Row], eos_ids: frozenset[int]
    ) -> None:
        self._tokenizer = tokenizer
        self._width = prompt_width
        self._limits = [row.max_new for row in batch]
        self._stops = [row.stops for row in batch]
        # Enough tokens to hold the longest stop string, plus slack for split characters.
        self._windows = [max((len(s) for s in row.stops), default=0) + 2 for row in batch]
        self._eos = eos_ids
        self.finished: dict[int, tuple[int, str]] = {}
        self.first_step_at: float | None = None

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor | None, **kwargs: Any
    ) -> torch.BoolTensor:
        if self.first_step_at is None:
            self.first_step_at = time.perf_counter()
        count = input_ids.shape[1] - self._width
        last = input_ids[:, -1].tolist()
        for i in range(input_ids.shape[0]):
            if i in self.finished:
                continue
            if last[i] in self._eos:
                self.finished[i] = (count, "stop")
            elif self._stops[i] and self._hit_stop(input_ids[i], i, count):
                self.finished[i] = (count, "stop")
            elif count >= self._limits[i]:
                self.finished[i] = (count, "length")
        done = [i in self.finished for i in range(input_ids.shape[0])]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _hit_stop(self, ids: torch.LongTensor, i: int, count: int) -> bool:
        window = min(count, self._windows[i])
        tail = self._tokenizer.decode(ids[-window:].tolist(), skip_special_tokens=True)
        return any(stop in tail for stop in self._stops[i])


def _check_adapter_dir(info: AdapterInfo) -> None:
    folder = Path(info.path)
    if not (folder / ADAPTER_WEIGHTS_FILE).is_file():
        raise AdapterError(
            f"adapter {info.customization_id!r} at {folder} has no {ADAPTER_WEIGHTS_FILE} "
            "(only safetensors adapters are served)"
        )


def _sampling_key(sampling: SamplingParams) -> tuple[Any, ...]:
    # Rows share a generate call when everything but max_tokens and stop is the same.
    if sampling.temperature == 0:
        return ("greedy", sampling.repetition_penalty)
    return ("sample", sampling.temperature, sampling.top_p, sampling.top_k, sampling.seed,
            sampling.repetition_penalty)


def _first_stop(text: str, stops: tuple[str, ...]) -> int | None:
    positions = [pos for stop in stops if stop and (pos := text.find(stop)) >= 0]
    return min(positions) if positions else None


__all__ = ["BASE_ADAPTER_NAME", "PeftEngine"]
