"""The peft engine's first-token logprobs (``SamplingParams.logprobs``): the first generated
position's scores, kept by a logits processor placed after every other one (so the grammar's
mask applies, as vLLM reports them), and each row's likeliest tokens from them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessor


class FirstScores(LogitsProcessor):
    """Keeps the scores of the first generated position; changes nothing."""

    scores: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor
                 ) -> torch.FloatTensor:
        if self.scores is None:
            self.scores = scores.detach().clone()
        return scores


def top_logprobs(scores: torch.Tensor, batch: Sequence[Any], tokenizer: Any
                  ) -> list[tuple[tuple[str, float], ...]]:
    """Each row's likeliest first tokens (as many as it asked), from the first step's scores
    after the logits processors, so the grammar's mask is applied, as vLLM reports them."""
    logprobs = torch.log_softmax(scores.float(), dim=-1)
    out: list[tuple[tuple[str, float], ...]] = []
    for i, row in enumerate(batch):
        k = row.sampling.logprobs
        values, ids = logprobs[i].topk(k) if k else (torch.empty(0), torch.empty(0))
        out.append(tuple((tokenizer.decode([t]), v) for v, t in
                         zip(values.tolist(), ids.tolist(), strict=True) if math.isfinite(v)))
    return out
