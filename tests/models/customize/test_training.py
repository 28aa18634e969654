"""Real, tiny training runs on the default base model: train → register → serve by ID.

Sizes are kept small (16 short examples, rank 4, one torch thread) so the module runs in about
a minute and a half on 2 shared cores.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from models.customize.registry import WEIGHTS_FILE, Registry
from models.customize.training import (
    LOSS_CURVE_FILE,
    Example,
    TrainConfig,
    examples_sha256,
    train,
    train_and_register,
)
from models.engines.base import Constraint, GenerateRequest, GenerateResult, Message, SamplingParams
from models.engines.peft_engine import PeftEngine
from models.errors import ConfigurationError

pytestmark = [pytest.mark.peft, pytest.mark.usefixtures("restore_torch_threads")]

LABELS = ("positive", "negative", "neutral")
SYSTEM = "Classify the customer's sentiment. Answer with one word: positive, negative or neutral."
TEXTS = {
    "positive": ("I love my new headphones, thank you!", "Great service, the router works.",
                 "The delivery was quick and the lamp is lovely.", "Thanks, the fix worked."),
    "negative": ("My order never arrived and nobody answers.", "The kettle broke after a day.",
                 "I am furious, you charged me twice.", "Worst support I have ever had."),
    "neutral": ("Where do I find my invoice?", "Can I change my delivery address?",
                "What is the warranty period for the speaker?", "Please update my phone number."),
}


def examples() -> list[Example]:
    rows = [(text, label) for label in LABELS for text in TEXTS[label]]
    rows += [(f"{text} Order {i}.", label) for i, (text, label) in enumerate(rows[:4])]
    return [Example((Message("system", SYSTEM), Message("user", text)), label)
            for text, label in rows]


TRAIN = examples()  # 16
EVAL = [Example((Message("system", SYSTEM), Message("user", text)), label)
        for text, label in (("The camera is fantastic.", "positive"),
                            ("Nothing works and I want my money back.", "negative"),
                            ("When does the shop open?", "neutral"))]


def generate(model_path: Path, registry: Registry, cid: str,
             requests: list[GenerateRequest]) -> list[GenerateResult]:
    engine = PeftEngine(model_path, {cid: registry.adapter_info(cid)}, torch_threads=1)

    async def run() -> list[GenerateResult]:
        async with engine:
            return await engine.generate(requests)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def lora_run(model_path: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    registry = Registry(tmp_path_factory.mktemp("registry"))
    config = TrainConfig(rank=4, alpha=8, epochs=2, batch_size=4, lr=2e-3, max_len=128, seed=3)
    manifest, result = train_and_register(
        registry, task="sentiment", model_dir=model_path, examples=TRAIN, config=config,
        eval_examples=EVAL, data={"note": "unit test"}, progress=False,
        evaluate=lambda folder: {"files_seen": sorted(p.name for p in folder.iterdir())},
    )
    return registry, manifest, result


def test_lora_trains_registers_and_serves_by_id(model_path: Path, lora_run) -> None:  # type: ignore[no-untyped-def]
    registry, manifest, result = lora_run
    assert manifest.id.startswith("sentiment-lora-")
    assert registry.verify() == []
    assert result.adapter_dir == registry.path(manifest.id)
    assert result.loss_curve.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert manifest.files[LOSS_CURVE_FILE] == hashlib.sha256(
        result.loss_curve.read_bytes()).hexdigest()
    assert manifest.hyperparameters["rank"] == 4 and manifest.hyperparameters["steps"] == 8
    assert manifest.hyperparameters["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert manifest.data_sha256 == examples_sha256(TRAIN)
    assert manifest.data["train_examples"] == 16 and manifest.data["note"] == "unit test"
    # The evaluate hook saw the saved adapter before it was registered.
    assert "adapter_config.json" in manifest.eval["files_seen"]
    assert WEIGHTS_FILE in manifest.eval["files_seen"]
    assert manifest.eval["eval_loss"] < manifest.eval["eval_loss_before"]

    requests = [GenerateRequest(messages=e.messages, adapter=manifest.id,
                                sampling=SamplingParams(max_tokens=4)) for e in EVAL]
    requests.append(GenerateRequest(messages=EVAL[0].messages, adapter=manifest.id,
                                    sampling=SamplingParams(max_tokens=4),
                                    constraint=Constraint(choices=LABELS)))
    results = generate(model_path, registry, manifest.id, requests)
    # Trained to answer with a label and then stop: the completion ends with <|im_end|>.
    assert all(r.text.strip() in LABELS and r.finish_reason == "stop" for r in results), results
    assert results[-1].text in LABELS


def test_loss_decreases_over_a_few_steps(lora_run) -> None:  # type: ignore[no-untyped-def]
    _, _, result = lora_run
    losses = result.step_losses
    assert len(losses) == 8
    assert sum(losses[-2:]) / 2 < 0.5 * sum(losses[:2]) / 2, losses
    assert result.eval_loss is not None and result.eval_loss_before is not None
    assert result.eval_loss < result.eval_loss_before


@pytest.fixture(scope="module")
def ptuning_run(model_path: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    registry = Registry(tmp_path_factory.mktemp("registry"))
    config = TrainConfig(method="ptuning", num_virtual_tokens=8, encoder_hidden_size=64,
                         batch_size=8, max_len=128, seed=1)
    manifest, result = train_and_register(
        registry, task="sentiment", model_dir=model_path, examples=TRAIN, config=config,
        progress=False,
    )
    return registry, manifest, result


# peft's prompt-learning forward drops the position ids transformers' generate passes, and says
# so; harmless for one unpadded prompt.
@pytest.mark.filterwarnings(
    "ignore:Position ids are not supported for parameter efficient tuning:UserWarning")
def test_ptuning_trains_and_loads_in_the_peft_engine(model_path: Path, ptuning_run) -> None:  # type: ignore[no-untyped-def]
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    registry, manifest, result = ptuning_run
    assert manifest.method == "ptuning" and manifest.id.startswith("sentiment-ptuning-")
    assert "rank" not in manifest.hyperparameters
    assert manifest.hyperparameters["num_virtual_tokens"] == 8
    assert result.eval_examples == 2  # a seeded 10 % of the 16 examples was held out
    assert result.eval_loss is not None
    assert registry.verify() == []

    engine = PeftEngine(model_path, {manifest.id: registry.adapter_info(manifest.id)},
                        torch_threads=1)

    async def load() -> bool:
        async with engine:
            return engine.healthy() and manifest.id in engine.adapters()

    assert asyncio.run(load())

    # The saved adapter generates through peft itself, loaded from the registry by ID.
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(registry.path(manifest.id)))
    prompt = tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in EVAL[0].messages],
        tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    assert output.shape[1] > inputs["input_ids"].shape[1]


def test_peft_engine_generates_with_a_ptuning_adapter(model_path: Path, ptuning_run) -> None:  # type: ignore[no-untyped-def]
    registry, manifest, _ = ptuning_run
    request = GenerateRequest(messages=EVAL[0].messages, adapter=manifest.id,
                              sampling=SamplingParams(max_tokens=3))
    (out,) = generate(model_path, registry, manifest.id, [request])
    assert out.completion_tokens >= 1


def test_same_seed_same_adapter(model_path: Path, tmp_path: Path) -> None:
    config = TrainConfig(rank=2, alpha=4, batch_size=4, max_len=128, seed=11)
    first = train(model_path, TRAIN[:8], config, tmp_path / "a", eval_examples=EVAL[:1],
                  progress=False)
    second = train(model_path, TRAIN[:8], config, tmp_path / "b", eval_examples=EVAL[:1],
                   progress=False)
    assert first.step_losses == second.step_losses
    for name in ("adapter_config.json", WEIGHTS_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_examples_longer_than_max_len_are_dropped(model_path: Path, tmp_path: Path) -> None:
    long = Example((Message("user", "word " * 400),), "positive")
    with pytest.raises(ConfigurationError, match="no training example fits"):
        train(model_path, [long], TrainConfig(max_len=64), tmp_path, progress=False)


def test_config_is_checked() -> None:
    with pytest.raises(ConfigurationError):
        TrainConfig(method="prefix")
    with pytest.raises(ConfigurationError):
        TrainConfig(rank=0)
    with pytest.raises(ConfigurationError):
        TrainConfig(lr=-1.0)
    with pytest.raises(ConfigurationError):
        TrainConfig(layers=0)
    assert TrainConfig().learning_rate == 5e-4
    assert TrainConfig(method="ptuning").learning_rate == 3e-3
    assert "num_virtual_tokens" not in TrainConfig().hyperparameters()
