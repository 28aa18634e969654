"""The one inference-engine interface every handler talks to.

A request names its adapter (a customization ID, or ``None`` for the bare base model), carries
either a ready prompt or chat messages, its sampling parameters and optionally a structured-output
constraint. ``generate`` takes a whole stage's requests at once and returns results in the same
order; engines batch internally (continuous batching on vLLM, padded batches on peft).

Every result carries the ``RequestTiming`` of its request where the engine can measure it, and
every engine reports its ``queue_depth``: what the daemon's engine metrics are made of.
"""

from __future__ import annotations

import abc
import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from models.errors import ConfigurationError

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message; engines render a conversation with the base model's chat template."""

    role: Role
    content: str


# OpenAI-compatible servers refuse more stop strings than this; every engine keeps the same limit.
MAX_STOP_STRINGS = 4
# The OpenAI API's top_logprobs limit; every engine keeps it.
MAX_LOGPROBS = 20


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Decoding settings. ``temperature == 0`` means greedy; ``top_k == 0`` disables top-k.

    ``repetition_penalty`` (1.0 = off) divides the positive logits and multiplies the negative
    ones of every token already in the prompt or the output, as vLLM and transformers both
    define it, so the engines behave alike. ``stop`` strings end generation and are not part of
    the text. ``logprobs`` > 0 asks for that many of the likeliest tokens at the first generated
    position, with their log-probabilities (``GenerateResult.top_logprobs``): a yes/no answer's
    confidence, which a threshold can then trade."""

    max_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    repetition_penalty: float = 1.0
    logprobs: int = 0

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ConfigurationError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise ConfigurationError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigurationError(f"top_p must be in (0, 1], got {self.top_p}")
        if len(self.stop) > MAX_STOP_STRINGS:
            raise ConfigurationError(
                f"at most {MAX_STOP_STRINGS} stop strings (the OpenAI API's limit, which vLLM's "
                f"server enforces), got {len(self.stop)}"
            )
        if self.top_k < 0:
            raise ConfigurationError(f"top_k must be >= 0, got {self.top_k}")
        if self.repetition_penalty <= 0:
            raise ConfigurationError(
                f"repetition_penalty must be > 0, got {self.repetition_penalty}"
            )
        if not 0 <= self.logprobs <= MAX_LOGPROBS:
            raise ConfigurationError(
                f"logprobs must be in [0, {MAX_LOGPROBS}], got {self.logprobs}"
            )


@dataclass(frozen=True, slots=True)
class Constraint:
    """Structured output: exactly one of a JSON schema, a closed list of choices or a regular
    expression that the whole answer matches (the subset every engine's grammar library reads:
    literals, classes, groups, alternation and repeats; no anchors or lookarounds)."""

    json_schema: Mapping[str, Any] | None = None
    choices: tuple[str, ...] | None = None
    regex: str | None = None

    def __post_init__(self) -> None:
        if [self.json_schema, self.choices, self.regex].count(None) != 2:
            raise ConfigurationError(
                "a Constraint takes exactly one of json_schema, choices or regex"
            )
        if self.choices is not None and not self.choices:
            raise ConfigurationError("a choices Constraint needs at least one choice")

    def schema_text(self) -> str:
        """The JSON schema as canonical text (engines that take a string)."""
        return json.dumps(self.json_schema, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """One generation. Exactly one of ``prompt`` (already rendered) or ``messages``."""

    prompt: str | None = None
    messages: tuple[Message, ...] | None = None
    adapter: str | None = None
    sampling: SamplingParams = field(default_factory=SamplingParams)
    constraint: Constraint | None = None

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ConfigurationError("a GenerateRequest takes exactly one of prompt or messages")


@dataclass(frozen=True, slots=True)
class RequestTiming:
    """Where one request's time went, in seconds, as the engine that ran it measured it.

    All three count from the request's submission (the start of the ``generate`` call):

    * ``queue_s``: until the engine started working on it (waiting for the scheduler, the model
      or a connection slot); ``None`` where the engine cannot tell;
    * ``ttft_s``: until its first generated token; ``None`` where the engine cannot see tokens
      as they come (e.g. a non-streaming HTTP call);
    * ``total_s``: until its final token (its result was ready).
    """

    queue_s: float | None
    ttft_s: float | None
    total_s: float


@dataclass(frozen=True, slots=True)
class GenerateResult:
    """What one request produced.

    ``top_logprobs``: where the request asked for ``logprobs``, the likeliest tokens at the first
    generated position as (token text, log-probability), likeliest first, as the model scored
    them under the request's constraint (tokens it rules out are not among them); empty
    otherwise. Engines compute them in their own numerics, so ``timing`` and ``top_logprobs``
    are left out of comparisons: two runs of the same request give equal results.
    """

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    timing: RequestTiming | None = field(default=None, compare=False)
    top_logprobs: tuple[tuple[str, float], ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    """An adapter an engine can serve, addressed by its customization ID."""

    customization_id: str
    task: str
    method: str
    path: str


class PendingRequests:
    """The count behind ``Engine.queue_depth``: requests taken by ``generate`` and not finished.

    ``hold(n)`` counts a call's ``n`` requests for the duration of a ``with`` block and yields a
    ``done(k)`` to uncount ``k`` requests that finish earlier; whatever is still counted when the
    block ends, however it ends (an error, a cancellation), is uncounted then. Single-threaded:
    use it from the event loop only.
    """

    def __init__(self) -> None:
        self.count = 0

    @contextlib.contextmanager
    def hold(self, n: int) -> Iterator[Callable[[int], None]]:
        left = n
        self.count += n

        def done(k: int) -> None:
            nonlocal left
            k = min(k, left)  # a late or repeated done never uncounts another call's requests
            left -= k
            self.count -= k

        try:
            yield done
        finally:
            self.count -= left
            left = 0


def estimate_tokens(text: str) -> int:
    """An upper bound on tokens when no tokenizer is at hand: one per UTF-8 byte, which no
    byte-level BPE tokenizer exceeds. Runs of punctuation or digits ("1-1-1", "@.@.") do come
    close to it, so nothing tighter is safe; ordinary English takes about a quarter of it."""
    return len(text.encode("utf-8", "surrogatepass"))


def tokenizer_counter(model_path: Path) -> Callable[[str], int] | None:
    """A token counter from the model folder's ``tokenizer.json`` (the Rust ``tokenizers``
    library, which vLLM and transformers install), or None when either is missing."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return None
    path = Path(model_path) / "tokenizer.json"
    if not path.is_file():
        return None
    tokenizer = Tokenizer.from_file(str(path))

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


class Engine(abc.ABC):
    """Inference behind one interface: start/stop, health, adapters, order-preserving generate.

    Engines are async context managers; ``stop`` is idempotent.
    """

    name: str = "engine"

    @property
    @abc.abstractmethod
    def base_model(self) -> str:
        """A short identifier of the base model (its name, not a path)."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Load the model and adapters. Raises ``EngineDeadError`` if the engine cannot start."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Release the model. Safe to call twice and before ``start``."""

    @abc.abstractmethod
    def healthy(self) -> bool:
        """True while the engine can serve requests."""

    @abc.abstractmethod
    def adapters(self) -> Mapping[str, AdapterInfo]:
        """The adapters this engine serves, by customization ID."""

    @abc.abstractmethod
    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        """Run every request (concurrently where the engine can) and return results in order.

        Raises ``EngineError`` (retriable) for a transient failure of the whole call and
        ``EngineDeadError`` when the engine is gone.
        """

    def queue_depth(self) -> int:
        """Requests submitted to this engine and not finished (waiting or running)."""
        return 0

    def context_tokens(self) -> int | None:
        """The most tokens one request may hold, prompt and output together (the model's
        ``max_model_len``); None when unknown."""
        return None

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this engine's prompts. Engines with the served model's
        tokenizer count exactly; this default is an upper bound (``estimate_tokens``)."""
        return estimate_tokens(text)

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def check_adapter(self, adapter: str | None) -> None:
        """Refuse a request for an adapter this engine was not started with."""
        if adapter is not None and adapter not in self.adapters():
            from models.errors import AdapterError

            raise AdapterError(f"adapter {adapter!r} is not loaded in the {self.name} engine")
