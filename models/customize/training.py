"""peft training of task adapters on the base model: LoRA, or p-tuning as the second method.

Input is a list of :class:`Example`: chat messages (rendered by the caller with the handlers' own
prompt functions, so training and serving see the same prompt) and the target completion. Each
example is tokenised the way the engines serve it: the chat template with the generation prompt,
then the completion followed by the template's end-of-turn token (``<|im_end|>``, the model's EOS),
so a trained adapter learns to stop. Only completion tokens carry loss; the prompt is masked.

Why the details:

* fp32 on CPU with an explicit thread count: bf16 matmuls are slower on most CPUs and the optimiser
  state is tiny either way; a fixed thread count keeps timings and reductions reproducible.
* Batches are built from length-sorted chunks of a seeded shuffle (less padding), right-padded,
  and the model computes logits only over the window of positions that predict completion tokens
  (``logits_to_keep``): the 49k-wide vocabulary projection is a large share of the compute and
  most of the activation memory, and prompt positions do not need it.
* Examples longer than ``max_len`` tokens are dropped, not cut: a cut prompt is a prompt the
  adapter would never see in serving, and a cut completion would teach it not to stop.
* The adapter is saved with ``save_pretrained(safe_serialization=True)``: plain LoRA on existing
  attention/MLP projections (no ``modules_to_save``, no DoRA), the format vLLM accepts.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from models.base_model import WEIGHTS_FILE_NAME, model_id
from models.customize.registry import METHODS, Manifest, Registry
from models.engines.base import Message
from models.errors import ConfigurationError
from models.files import sha256_file
from models.progress import wanted as progress_wanted

LOSS_CURVE_FILE = "loss_curve.png"
LORA_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
_DEFAULT_LR = {"lora": 5e-4, "ptuning": 3e-3}
_IGNORE = -100


@dataclass(frozen=True, slots=True)
class Example:
    """One training pair: the prompt as chat messages and the completion the model should give."""

    messages: tuple[Message, ...]
    completion: str


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Training settings; all of them are recorded in the adapter's manifest.

    ``lr`` ``None`` picks a per-method default (LoRA 5e-4, p-tuning 3e-3). ``layers`` puts LoRA on
    the last N transformer layers only (``None``: all): the backward pass then stops at the lowest
    adapted layer, so a step is shorter; vLLM serves such adapters (modules without weights get
    no LoRA). ``holdout_fraction`` is used only when no eval examples are given: that share of
    the training examples is held out for the final loss. ``torch_threads`` defaults to 1: on
    shared hosts more threads run a step slower whenever other jobs hold the cores (OpenMP
    threads wait on each other).
    """

    method: str = "lora"
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = LORA_TARGETS
    layers: int | None = None
    num_virtual_tokens: int = 16
    encoder_hidden_size: int = 128
    epochs: int = 1
    lr: float | None = None
    batch_size: int = 8
    max_len: int = 320
    warmup_fraction: float = 0.05
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    torch_threads: int = 1
    holdout_fraction: float = 0.1
    max_eval_loss_examples: int = 100

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigurationError(f"method must be one of {METHODS}, got {self.method!r}")
        positive = {"rank": self.rank, "alpha": self.alpha, "epochs": self.epochs,
                    "batch_size": self.batch_size, "max_len": self.max_len,
                    "torch_threads": self.torch_threads,
                    "num_virtual_tokens": self.num_virtual_tokens,
                    "encoder_hidden_size": self.encoder_hidden_size}
        for name, value in positive.items():
            if value < 1:
                raise ConfigurationError(f"{name} must be >= 1, got {value}")
        if self.lr is not None and not self.lr > 0:
            raise ConfigurationError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.holdout_fraction < 1 or not 0 <= self.warmup_fraction < 1:
            raise ConfigurationError("holdout_fraction and warmup_fraction must be in [0, 1)")
        if self.method == "lora" and not self.target_modules:
            raise ConfigurationError("LoRA needs at least one target module")
        if self.layers is not None and self.layers < 1:
            raise ConfigurationError(f"layers must be >= 1 or None, got {self.layers}")

    @property
    def learning_rate(self) -> float:
        """The learning rate in effect."""
        return self.lr if self.lr is not None else _DEFAULT_LR[self.method]

    def hyperparameters(self) -> dict[str, Any]:
        """The settings that shaped this method's adapter, for the manifest."""
        values = asdict(self)
        values["lr"] = self.learning_rate
        values["target_modules"] = list(self.target_modules)
        lora_only = ("rank", "alpha", "dropout", "target_modules", "layers")
        ptuning_only = ("num_virtual_tokens", "encoder_hidden_size")
        for name in lora_only if self.method == "ptuning" else ptuning_only:
            values.pop(name)
        return values


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What a run produced: the adapter folder, the loss curve and the held-out figures."""

    adapter_dir: Path
    loss_curve: Path
    step_losses: tuple[float, ...]
    eval_loss_before: float | None
    eval_loss: float | None
    train_examples: int
    eval_examples: int
    dropped_too_long: int
    steps: int
    wall_s: float
    figures: Mapping[str, Any] = field(default_factory=dict)

    def eval_figures(self) -> dict[str, Any]:
        """The held-out figures for the manifest."""
        figures = {
            "eval_loss_before": _round(self.eval_loss_before),
            "eval_loss": _round(self.eval_loss),
            "eval_loss_examples": self.eval_examples,
            "final_train_loss": _round(_tail_mean(self.step_losses)),
        }
        return {**figures, **self.figures}


@dataclass(frozen=True, slots=True)
class _Encoded:
    ids: tuple[int, ...]
    prompt_len: int


def examples_sha256(examples: Sequence[Example]) -> str:
    """A stable hash of rendered examples (for data that did not come from a file)."""
    digest = hashlib.sha256()
    for example in examples:
        row = {"messages": [[m.role, m.content] for m in example.messages],
               "completion": example.completion}
        digest.update(json.dumps(row, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
    return digest.hexdigest()


def base_model_sha256(model_dir: Path) -> str:
    """The sha256 of the base model's weights file (or of its shard index when sharded)."""
    weights = Path(model_dir) / WEIGHTS_FILE_NAME
    if not weights.is_file():
        weights = Path(model_dir) / f"{WEIGHTS_FILE_NAME}.index.json"
    if not weights.is_file():
        raise ConfigurationError(f"{model_dir} has no {WEIGHTS_FILE_NAME}")
    return sha256_file(weights)


def _bar(steps: int, method: str, progress: bool) -> tqdm:
    """The step bar: only where a person watches (stderr a TTY, progress not switched off); in
    CI and pod logs tqdm's redraws are noise, one line per update."""
    return tqdm(total=steps, desc=f"train {method}", unit="step",
                disable=not (progress and progress_wanted()))


def train(
    model_dir: Path,
    examples: Sequence[Example],
    config: TrainConfig,
    out_dir: Path,
    eval_examples: Sequence[Example] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train one adapter and save it (peft safetensors + ``loss_curve.png``) into ``out_dir``.

    Without ``eval_examples`` a seeded ``holdout_fraction`` of ``examples`` is held out. The
    held-out loss (mean NLL per completion token, at most ``max_eval_loss_examples`` examples) is
    measured before and after training.
    """
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    torch.set_num_threads(config.torch_threads)
    _seed_everything(config.seed)
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    eos_id = tokenizer.eos_token_id
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_id
    if eos_id is None:
        raise ConfigurationError(f"the tokenizer in {model_dir} has no EOS token")

    train_rows, eval_rows = list(examples), list(eval_examples or [])
    if not eval_rows and config.holdout_fraction > 0 and len(train_rows) > 1:
        order = list(range(len(train_rows)))
        random.Random(config.seed).shuffle(order)
        cut = max(1, round(len(order) * config.holdout_fraction))
        eval_rows = [train_rows[i] for i in order[:cut]]
        train_rows = [train_rows[i] for i in sorted(order[cut:])]
    encoded = [_encode(tokenizer, row, eos_id) for row in train_rows]
    kept = [row for row in encoded if len(row.ids) <= config.max_len]
    held = [row for row in (_encode(tokenizer, r, eos_id) for r in eval_rows)
            if len(row.ids) <= config.max_len][: config.max_eval_loss_examples]
    if not kept:
        raise ConfigurationError(
            f"no training example fits max_len {config.max_len} (of {len(encoded)})"
        )

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = get_peft_model(model, _peft_config(config, model.config.num_hidden_layers))
    peft_config = model.peft_config["default"]
    # The config would otherwise carry this machine's absolute model path, and peft keeps target
    # modules as a set, which would be saved in a hash-seed-dependent order.
    peft_config.base_model_name_or_path = model_id(model_dir)
    if config.method == "lora":
        peft_config.target_modules = sorted(peft_config.target_modules)
    virtual = config.num_virtual_tokens if config.method == "ptuning" else 0

    loss_before = _mean_loss(model, held, config.batch_size, pad_id, virtual) if held else None
    batches = _batches(kept, config.batch_size, config.epochs, config.seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    schedule = _linear_schedule(len(batches), config.warmup_fraction)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    losses: list[float] = []
    model.train()
    with _bar(len(batches), config.method, progress) as bar:
        for batch in batches:
            loss_sum, count = _batch_loss(model, batch, pad_id, virtual)
            loss = loss_sum / count
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
            bar.update()
    model.eval()
    loss_after = _mean_loss(model, held, config.batch_size, pad_id, virtual) if held else None

    out_dir.mkdir(parents=True, exist_ok=True)
    # save_embedding_layers=False: neither method trains embeddings, and "auto" would look the
    # base model's name up on the Hub (offline here) and warn.
    model.save_pretrained(out_dir, safe_serialization=True, save_embedding_layers=False)
    curve = out_dir / LOSS_CURVE_FILE
    _plot(losses, loss_before, loss_after, curve, f"{config.method} on {model_id(model_dir)}")
    return TrainResult(
        adapter_dir=out_dir,
        loss_curve=curve,
        step_losses=tuple(losses),
        eval_loss_before=loss_before,
        eval_loss=loss_after,
        train_examples=len(kept),
        eval_examples=len(held),
        dropped_too_long=len(encoded) - len(kept),
        steps=len(batches),
        wall_s=time.monotonic() - started,
    )


def train_and_register(
    registry: Registry,
    *,
    task: str,
    model_dir: Path,
    examples: Sequence[Example],
    config: TrainConfig,
    data_sha256: str | None = None,
    data: Mapping[str, Any] | None = None,
    eval_examples: Sequence[Example] | None = None,
    evaluate: Callable[[Path], Mapping[str, Any]] | None = None,
    progress: bool = True,
) -> tuple[Manifest, TrainResult]:
    """Train, evaluate, and register the adapter under a new customization ID.

    ``evaluate`` receives the saved (not yet registered) adapter folder and returns task-level
    figures (accuracy, F1...) that go into the manifest next to the held-out loss; it is how a
    caller that knows the task's parser measures an adapter before it is published.
    """
    with tempfile.TemporaryDirectory(prefix="replyd-train-") as scratch:
        result = train(model_dir, examples, config, Path(scratch), eval_examples, progress)
        figures = dict(evaluate(result.adapter_dir)) if evaluate is not None else {}
        wall_s = result.wall_s
        manifest = registry.create(
            source_dir=result.adapter_dir,
            task=task,
            method=config.method,
            base_model=model_id(model_dir),
            base_model_sha256=base_model_sha256(model_dir),
            hyperparameters={**config.hyperparameters(), "steps": result.steps},
            data_sha256=data_sha256 or examples_sha256(examples),
            data={"train_examples": result.train_examples,
                  "dropped_too_long": result.dropped_too_long, **(data or {})},
            eval={**result.eval_figures(), **figures, "train_wall_s": round(wall_s, 1)},
            artifacts=(LOSS_CURVE_FILE,),
        )
    final = registry.path(manifest.id)
    return manifest, TrainResult(
        adapter_dir=final,
        loss_curve=final / LOSS_CURVE_FILE,
        step_losses=result.step_losses,
        eval_loss_before=result.eval_loss_before,
        eval_loss=result.eval_loss,
        train_examples=result.train_examples,
        eval_examples=result.eval_examples,
        dropped_too_long=result.dropped_too_long,
        steps=result.steps,
        wall_s=wall_s,
        figures=figures,
    )


# -- internals --------------------------------------------------------------------------------


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def _peft_config(config: TrainConfig, num_layers: int) -> Any:
    from peft import LoraConfig, PromptEncoderConfig

    if config.method == "lora":
        layers = None
        if config.layers is not None and config.layers < num_layers:
            layers = list(range(num_layers - config.layers, num_layers))
        return LoraConfig(
            layers_to_transform=layers,
            r=config.rank,
            lora_alpha=config.alpha,
            lora_dropout=config.dropout,
            target_modules=list(config.target_modules),
            bias="none",
            task_type="CAUSAL_LM",
        )
    return PromptEncoderConfig(
        task_type="CAUSAL_LM",
        num_virtual_tokens=config.num_virtual_tokens,
        encoder_hidden_size=config.encoder_hidden_size,
    )


def _encode(tokenizer: Any, example: Example, eos_id: int) -> _Encoded:
    """Prompt exactly as the engines render it, then the completion and EOS."""
    prompt = tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in example.messages],
        tokenize=False,
        add_generation_prompt=True,
    )
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(example.completion, add_special_tokens=False)["input_ids"]
    return _Encoded(ids=(*prompt_ids, *completion_ids, eos_id), prompt_len=len(prompt_ids))


def _batches(rows: list[_Encoded], size: int, epochs: int, seed: int) -> list[list[_Encoded]]:
    """Per epoch: seeded shuffle, sort chunks of 32 batches by length, shuffle the batches."""
    rng = random.Random(seed)
    batches: list[list[_Encoded]] = []
    for _ in range(epochs):
        order = list(range(len(rows)))
        rng.shuffle(order)
        chunk = size * 32
        epoch: list[list[_Encoded]] = []
        for start in range(0, len(order), chunk):
            part = sorted(order[start : start + chunk], key=lambda i: len(rows[i].ids))
            epoch.extend([rows[i] for i in part[j : j + size]] for j in range(0, len(part), size))
        rng.shuffle(epoch)
        batches.extend(epoch)
    return batches


def _batch_loss(
    model: Any, batch: list[_Encoded], pad_id: int, virtual: int
) -> tuple[torch.Tensor, int]:
    """Summed NLL of the completion tokens of a right-padded batch, and their count."""
    width = max(len(row.ids) for row in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), _IGNORE, dtype=torch.long)
    for i, row in enumerate(batch):
        ids = torch.tensor(row.ids, dtype=torch.long)
        input_ids[i, : len(ids)] = ids
        attention_mask[i, : len(ids)] = 1
        labels[i, row.prompt_len : len(ids)] = ids[row.prompt_len :]
    # Logits at position t predict token t+1: keep only the window that predicts completions.
    first = min(row.prompt_len for row in batch) - 1
    last = max(len(row.ids) for row in batch) - 1
    keep = torch.arange(first, last) + virtual
    output = model(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=keep)
    targets = labels[:, first + 1 : last + 1]
    loss_sum = torch.nn.functional.cross_entropy(
        output.logits.reshape(-1, output.logits.shape[-1]).float(),
        targets.reshape(-1),
        ignore_index=_IGNORE,
        reduction="sum",
    )
    return loss_sum, int((targets != _IGNORE).sum())


def _mean_loss(model: Any, rows: list[_Encoded], size: int, pad_id: int, virtual: int) -> float:
    """Mean NLL per completion token over ``rows`` (no gradients, dropout off)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    ordered = sorted(rows, key=lambda row: len(row.ids))
    with torch.inference_mode():
        for start in range(0, len(ordered), size):
            loss_sum, n = _batch_loss(model, ordered[start : start + size], pad_id, virtual)
            total, count = total + loss_sum.item(), count + n
    model.train(was_training)
    return total / max(count, 1)


def _linear_schedule(steps: int, warmup_fraction: float) -> Callable[[int], float]:
    warmup = max(1, math.ceil(steps * warmup_fraction)) if warmup_fraction > 0 else 0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (steps - step) / max(1, steps - warmup))

    return factor


def _plot(losses: list[float], before: float | None, after: float | None, path: Path,
          title: str) -> None:
    # The object API with the Agg canvas: no pyplot global state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    steps = range(1, len(losses) + 1)
    axes.plot(steps, losses, linewidth=0.8, alpha=0.5, label="train loss (step)")
    window = max(1, len(losses) // 20)
    if window > 1:
        tails = [losses[max(0, i - window + 1) : i + 1] for i in range(len(losses))]
        smooth = [sum(tail) / len(tail) for tail in tails]
        axes.plot(steps, smooth, linewidth=1.5, label=f"train loss (mean of {window})")
    if before is not None:
        axes.scatter([0], [before], marker="o", color="tab:red", label="held-out loss, before")
    if after is not None:
        axes.scatter([len(losses)], [after], marker="s", color="tab:green",
                     label="held-out loss, after")
    axes.set_xlabel("step")
    axes.set_ylabel("loss per completion token")
    axes.set_title(title)
    axes.legend(fontsize=8)
    figure.tight_layout()
    # No timestamp in the PNG metadata, so a retrained adapter's artifacts hash the same.
    figure.savefig(path, format="png", metadata={"Software": None})


def _tail_mean(values: Sequence[float]) -> float | None:
    tail = list(values[-max(1, len(values) // 10) :])
    return sum(tail) / len(tail) if tail else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


__all__ = [
    "LORA_TARGETS",
    "Example",
    "TrainConfig",
    "TrainResult",
    "base_model_sha256",
    "examples_sha256",
    "train",
    "train_and_register",
]
