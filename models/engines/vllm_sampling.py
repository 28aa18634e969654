"""vLLM ``SamplingParams`` from ours, and the one place that knows vLLM-CPU's sampling limits.

**Seeds are dropped on CPU.** vLLM 0.32 on CPU kills its engine core when a seeded request's
prefill is split over steps (chunked prefill, whenever a step's token budget runs out mid-prompt):
to discard that step's sample it rewinds the request's own ``torch.Generator`` with
``set_offset``, which CPU generators do not support ("CPU Generator does not use offset"). Four
seeded, sampled requests of ~1,500 prompt tokens each are enough (measured: the engine died, and
with it ``replyd run``, on a real-mail trial whose second-try drafts were seeded). Greedy
requests have no generator and are unaffected. Without a seed a sampled request draws from the
engine's global generator: still sampled, no longer reproducible run to run.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from models.engines.base import GenerateRequest

if TYPE_CHECKING:
    from vllm.sampling_params import SamplingParams as VllmSamplingParams

log = logging.getLogger(__name__)


@functools.cache
def seeds_supported() -> bool:
    """Whether per-request seeds are safe on this platform (not on CPU, see the module doc)."""
    from vllm.platforms import current_platform

    supported = not current_platform.is_cpu()
    if not supported:
        log.info("vLLM on CPU: per-request sampling seeds are dropped (a seeded request whose "
                 "prefill is split kills vLLM-CPU's engine core)")
    return supported


def sampling_params(request: GenerateRequest) -> VllmSamplingParams:
    """Map our sampling settings and constraint onto vLLM's ``SamplingParams``."""
    from vllm.sampling_params import RequestOutputKind, SamplingParams, StructuredOutputsParams

    s = request.sampling
    structured = None
    if request.constraint is not None:
        if request.constraint.choices is not None:
            structured = StructuredOutputsParams(choice=list(request.constraint.choices))
        elif request.constraint.regex is not None:
            structured = StructuredOutputsParams(regex=request.constraint.regex)
        else:
            structured = StructuredOutputsParams(json=dict(request.constraint.json_schema or {}))
    return SamplingParams(
        max_tokens=s.max_tokens,
        temperature=s.temperature,
        top_p=s.top_p,
        top_k=s.top_k,  # vLLM 0.32 also reads 0 as "disabled"
        stop=list(s.stop) or None,
        seed=s.seed if s.seed is None or seeds_supported() else None,
        repetition_penalty=s.repetition_penalty,
        structured_outputs=structured,
        # Scored after the constraint's mask and before penalties (vLLM's raw_logprobs mode).
        logprobs=s.logprobs or None,
        # One output per request: we never stream.
        output_kind=RequestOutputKind.FINAL_ONLY,
    )


def first_logprobs(logprobs: Any) -> tuple[tuple[str, float], ...]:
    """(token, logprob) at the first generated position, likeliest first; () when not asked.
    vLLM also lists the sampled token, which may lie outside the top k: it is kept."""
    if not logprobs:
        return ()
    first = logprobs[0] or {}
    pairs = [(p.decoded_token or "", float(p.logprob)) for p in first.values()]
    return tuple(sorted(pairs, key=lambda pair: -pair[1]))
