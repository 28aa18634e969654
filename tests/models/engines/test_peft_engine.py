"""The transformers + peft engine on the real default model (no fakes).

Generations are kept to a few tokens so the module runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from models.engines.base import AdapterInfo, Constraint, GenerateResult, SamplingParams
from models.engines.peft_engine import PeftEngine
from models.errors import AdapterError, ConfigurationError, EngineDeadError
from tests.models.engines.engine_helpers import (
    GREEDY,
    ask,
    check_scored,
    save_random_lora,
    scored_requests,
)

pytestmark = [pytest.mark.peft, pytest.mark.usefixtures("restore_torch_threads")]

ADAPTER = "acme-sentiment"
# One thread: these tests share 2 cores with other jobs, and oversubscribed torch threads spin
# (measured: a 32-row batch took 41 s with 2 threads and 12 s with 1 while another job ran).
THREADS = 1
PROMPTS = (
    "What is the capital of France?",
    "Write one sentence thanking a customer for their order.",
    "My router keeps dropping the connection every evening. What should I try first?",
    "Hi",
)
LABELS = ("positive", "negative", "neutral")
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        # Bounded, so a small model cannot run an unbounded integer up to max_tokens.
        "order_id": {"type": "string", "maxLength": 12},
    },
    "required": ["name", "order_id"],
}


@pytest.fixture(scope="module")
def adapter_dir(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The random LoRA built on the float32 model, as a causal-LM adapter (the engines' modules
    share a bfloat16 one without a task type: ``random_lora_dir``)."""
    folder = tmp_path_factory.mktemp("adapter") / ADAPTER
    return save_random_lora(model_path, folder, "float32", task_type="CAUSAL_LM")


@pytest.fixture(scope="module")
async def engine(model_path: Path) -> AsyncIterator[PeftEngine]:
    running = PeftEngine(model_path, dtype="float32", max_batch_size=8, torch_threads=THREADS)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def adapter_engine(model_path: Path, adapter_dir: Path) -> AsyncIterator[PeftEngine]:
    info = AdapterInfo(ADAPTER, task="sentiment", method="lora", path=str(adapter_dir))
    running = PeftEngine(model_path, {ADAPTER: info}, dtype="float32", torch_threads=THREADS)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def singles(engine: PeftEngine) -> list[GenerateResult]:
    """Each prompt generated alone: the reference for batching and ordering."""
    return [(await engine.generate([ask(prompt)]))[0] for prompt in PROMPTS]


async def test_lifecycle(model_path: Path) -> None:
    fresh = PeftEngine(model_path, torch_threads=THREADS)
    await fresh.stop()  # before start: a no-op
    assert not fresh.healthy()
    async with fresh:
        assert fresh.healthy()
        assert fresh.base_model == "SmolLM2-135M-Instruct"
        assert dict(fresh.adapters()) == {}
    assert not fresh.healthy()
    await fresh.stop()
    with pytest.raises(EngineDeadError):
        await fresh.generate([ask("Hi")])


async def test_greedy_batch_matches_singles_and_keeps_order(
    engine: PeftEngine, singles: list[GenerateResult]
) -> None:
    batch = await engine.generate([ask(prompt) for prompt in PROMPTS])
    assert batch == singles
    reversed_batch = await engine.generate([ask(prompt) for prompt in reversed(PROMPTS)])
    assert reversed_batch == singles[::-1]
    assert all(result.text for result in singles)
    assert len({result.text for result in singles}) == len(PROMPTS)
    for result in singles:
        assert result.prompt_tokens > 0
        assert 1 <= result.completion_tokens <= GREEDY.max_tokens


async def test_results_carry_timings_and_queue_depth_follows_batches(engine: PeftEngine) -> None:
    batch = [ask(prompt) for prompt in (PROMPTS * 3)[:10]]  # max_batch_size 8: two batches
    assert engine.queue_depth() == 0
    started = time.perf_counter()
    call = asyncio.create_task(engine.generate(batch))
    depths: list[int] = []
    while not call.done():
        await asyncio.sleep(0.005)
        depths.append(engine.queue_depth())
    results = await call
    elapsed = time.perf_counter() - started
    assert depths[0] == 10
    assert 2 in depths  # the first batch of 8 is done, the last 2 rows are running
    assert set(depths) <= {10, 2, 0}
    assert engine.queue_depth() == 0
    timings = [result.timing for result in results]
    for timing in timings:
        assert timing is not None and timing.queue_s is not None and timing.ttft_s is not None
        assert 0 <= timing.queue_s < timing.ttft_s <= timing.total_s <= elapsed
    # Rows of a batch share its timing; the second batch waits for the first to end.
    first, second = sorted({t for t in timings if t is not None}, key=lambda t: t.queue_s or 0)
    assert sum(t == first for t in timings) == 8
    assert second.queue_s is not None and second.queue_s >= first.total_s


async def test_max_tokens_gives_length(engine: PeftEngine) -> None:
    [result] = await engine.generate([ask(PROMPTS[2], SamplingParams(max_tokens=3))])
    assert result.finish_reason == "length"
    assert result.completion_tokens == 3


async def test_stop_string_cuts_text(engine: PeftEngine) -> None:
    long = SamplingParams(max_tokens=12)
    [full] = await engine.generate([ask(PROMPTS[1], long)])
    words = full.text.split()
    assert len(words) >= 4, full.text
    stop = words[2]
    cut = full.text.index(stop)
    stopped = SamplingParams(max_tokens=12, stop=("never-seen-stop", stop))
    [result] = await engine.generate([ask(PROMPTS[1], stopped)])
    assert result.text == full.text[:cut]
    assert result.finish_reason == "stop"
    assert result.completion_tokens < full.completion_tokens


async def test_choices_constraint_returns_a_label_and_leaves_other_rows_alone(
    engine: PeftEngine, singles: list[GenerateResult]
) -> None:
    reviews = (
        "Broke after one day, awful.",
        "Works great, I love it!",
        "It arrived on Tuesday.",
        "Terrible support, never again.",
    )
    choice = Constraint(choices=LABELS)
    requests = [
        ask(f"Sentiment of this review: {review}", SamplingParams(max_tokens=1), constraint=choice)
        for review in reviews
    ]
    results = await engine.generate([*requests, ask(PROMPTS[0])])
    for result in results[:-1]:
        # max_tokens=1 is shorter than any label: a choice is always completed.
        assert result.text in LABELS
        assert result.finish_reason == "stop"
    assert results[-1] == singles[0]

    sampled = SamplingParams(max_tokens=1, temperature=1.5, top_k=5, seed=7)
    results = await engine.generate([ask(review, sampled, constraint=choice) for review in reviews])
    assert all(result.text in LABELS for result in results)


async def test_seeded_sampling_is_reproducible(engine: PeftEngine) -> None:
    sampled = SamplingParams(max_tokens=8, temperature=0.9, top_p=0.9, seed=1234)
    first = await engine.generate([ask(PROMPTS[1], sampled)])
    second = await engine.generate([ask(PROMPTS[1], sampled)])
    assert first == second
    assert first[0].text



async def test_logprobs_score_the_first_token_under_the_constraint(engine: PeftEngine) -> None:
    check_scored(await engine.generate(scored_requests()))

async def test_json_schema_constraint_returns_matching_json(
    engine: PeftEngine, singles: list[GenerateResult]
) -> None:
    request = ask(
        "Extract the product names and the order number from: 'Order 4411: two phone cases "
        "and a charger.' Answer in JSON.",
        SamplingParams(max_tokens=64),
        constraint=Constraint(json_schema=SCHEMA),
    )
    result, plain = await engine.generate([request, ask(PROMPTS[3])])
    assert plain == singles[3]
    assert result.finish_reason == "stop", result
    value = json.loads(result.text)
    assert set(value) == {"name", "order_id"}
    assert isinstance(value["order_id"], str) and len(value["order_id"]) <= 12
    assert isinstance(value["name"], list)
    assert all(isinstance(item, str) for item in value["name"])


async def test_mixed_adapter_batch_matches_rows_alone(
    adapter_engine: PeftEngine, singles: list[GenerateResult]
) -> None:
    prompts = PROMPTS[:2]
    requests = [
        ask(prompts[0]),
        ask(prompts[0], adapter=ADAPTER),
        ask(prompts[1]),
        ask(prompts[1], adapter=ADAPTER),
    ]
    mixed = await adapter_engine.generate(requests)
    alone = [(await adapter_engine.generate([request]))[0] for request in requests]
    assert mixed == alone
    # Base rows through the PeftModel equal the plain model's output; adapter rows differ.
    assert [mixed[0], mixed[2]] == singles[:2]
    assert mixed[1].text != mixed[0].text
    assert mixed[3].text != mixed[2].text


async def test_unknown_adapter_is_refused(engine: PeftEngine) -> None:
    with pytest.raises(AdapterError):
        await engine.generate([ask("Hi", adapter="nobody")])


async def test_adapter_without_safetensors_is_refused(model_path: Path, tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text("{}")
    (tmp_path / "adapter_model.bin").write_bytes(b"")
    info = AdapterInfo("pickled", task="sentiment", method="lora", path=str(tmp_path))
    with pytest.raises(AdapterError, match="safetensors"):
        await PeftEngine(model_path, {"pickled": info}).start()


async def test_unloadable_model_is_a_dead_engine(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    broken = PeftEngine(tmp_path, torch_threads=THREADS)
    with pytest.raises(EngineDeadError, match="could not load"):
        await broken.start()
    assert not broken.healthy()


def test_bad_settings_are_refused(model_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        PeftEngine(model_path, dtype="int8")
    with pytest.raises(ConfigurationError):
        PeftEngine(model_path, max_batch_size=0)


async def test_event_loop_stays_free_during_generation(engine: PeftEngine) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        first, second = await asyncio.gather(
            engine.generate([ask(PROMPTS[0])]), engine.generate([ask(PROMPTS[1])])
        )
    finally:
        task.cancel()
    assert first[0].text and second[0].text
    assert ticks >= 5
