"""What the engine test modules share: request builders, the tiny random LoRA adapter they
serve, and the tokenizer's prompt-token count that ties each result to its own request."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.engines.base import GenerateRequest, Message, SamplingParams

GREEDY = SamplingParams(max_tokens=8)


def ask(text: str, sampling: SamplingParams = GREEDY, **kwargs: Any) -> GenerateRequest:
    """A chat request: one user message."""
    return GenerateRequest(messages=(Message("user", text),), sampling=sampling, **kwargs)


def raw(text: str, sampling: SamplingParams = GREEDY, **kwargs: Any) -> GenerateRequest:
    """A plain completion request: the text as the prompt, no chat template."""
    return GenerateRequest(prompt=text, sampling=sampling, **kwargs)


def save_random_lora(
    model_path: Path, folder: Path, dtype: str, task_type: str | None = None
) -> Path:
    """A tiny random LoRA on q/v (rank 8, non-zero B, so it changes the output), built on the
    base model loaded in ``dtype`` with torch seed 0 and saved as safetensors in ``folder``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype))
    config = LoraConfig(
        r=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False, task_type=task_type
    )
    get_peft_model(base, config).save_pretrained(folder)
    return folder


def prompt_token_ids(model_path: Path, requests: Sequence[GenerateRequest]) -> list[list[int]]:
    """Each request's prompt as the model's tokenizer encodes it: a raw prompt with the
    tokenizer's special tokens, a chat through the chat template."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    encoded = []
    for request in requests:
        if request.prompt is not None:
            encoded.append(list(tokenizer(request.prompt).input_ids))
            continue
        text = tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in request.messages or ()],
            tokenize=False,
            add_generation_prompt=True,
        )
        encoded.append(list(tokenizer(text, add_special_tokens=False).input_ids))
    return encoded


def prompt_token_counts(model_path: Path, requests: Sequence[GenerateRequest]) -> list[int]:
    """Each request's prompt length in tokens as the model's tokenizer counts it."""
    return [len(ids) for ids in prompt_token_ids(model_path, requests)]
