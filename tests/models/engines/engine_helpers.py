"""What the engine test modules share: request builders, the tiny random LoRA adapter they
serve, and the tokenizer's prompt-token count that ties each result to its own request."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.engines.base import Constraint, GenerateRequest, GenerateResult, Message, SamplingParams

GREEDY = SamplingParams(max_tokens=8)
# A yes/no question scored at its first token, as the steering adapter asks it.
YES_NO = Constraint(choices=("yes", "no"))
SCORED = SamplingParams(max_tokens=2, logprobs=5)


def scored_requests(**kwargs: Any) -> list[GenerateRequest]:
    """Yes/no questions with logprobs, chat and plain, and one row that asks for none."""
    return [ask("Is the sky blue? Answer yes or no.", SCORED, constraint=YES_NO, **kwargs),
            ask("Is fire cold? Answer yes or no.", SCORED, constraint=YES_NO, **kwargs),
            raw("Question: is water wet?\nAnswer (yes or no):", SCORED, constraint=YES_NO),
            ask("Is the sky blue? Answer yes or no.", SamplingParams(max_tokens=2),
                constraint=YES_NO)]


def check_scored(results: Sequence[GenerateResult]) -> None:
    """What :func:`scored_requests` must give on every engine: the first token's likeliest
    alternatives, likeliest first, only tokens the constraint allows (its mask applies), real
    probabilities, the greedy answer starting with the likeliest; none where none was asked."""
    for result in results[:-1]:
        assert result.text in ("yes", "no")
        tops = result.top_logprobs
        assert tops and len(tops) <= SCORED.logprobs + 1  # vLLM adds the sampled token
        values = [logprob for _, logprob in tops]
        assert values == sorted(values, reverse=True) and all(v <= 0 for v in values)
        assert sum(math.exp(v) for v in values) <= 1 + 1e-3
        assert all(token and any(c.startswith(token) for c in ("yes", "no"))
                   for token, _ in tops), tops
        assert result.text.startswith(tops[0][0])
    assert results[-1].top_logprobs == ()


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
