"""The OpenAI-compatible wire format of one request and the parts of its answer beyond the text:
the endpoint and JSON body (with vLLM's extra sampling fields: ``top_k``,
``repetition_penalty``, ``structured_outputs``) and the first token's logprobs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.engines.base import GenerateRequest

# The name a JSON-schema response_format carries (the API requires one).
SCHEMA_NAME = "replyd"


def request_body(request: GenerateRequest, model: str) -> tuple[str, dict[str, Any]]:
    """The endpoint and JSON body for one request, with vLLM's extra sampling fields."""
    s = request.sampling
    body: dict[str, Any] = {"model": model, "temperature": s.temperature, "top_p": s.top_p}
    if request.messages is not None:
        path = "/v1/chat/completions"
        body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        # vLLM's chat endpoint marks max_tokens deprecated in favour of this one.
        body["max_completion_tokens"] = s.max_tokens
    else:
        path = "/v1/completions"
        body["prompt"] = request.prompt
        body["max_tokens"] = s.max_tokens
    if s.top_k > 0:  # a vLLM extension; left out when disabled so other servers accept it
        body["top_k"] = s.top_k
    if s.stop:
        body["stop"] = list(s.stop)
    if s.repetition_penalty != 1.0:  # a vLLM extension, like top_k
        body["repetition_penalty"] = s.repetition_penalty
    if s.seed is not None:
        body["seed"] = s.seed
    if s.logprobs and request.messages is not None:
        body["logprobs"], body["top_logprobs"] = True, s.logprobs
    elif s.logprobs:
        body["logprobs"] = s.logprobs
    constraint = request.constraint
    if constraint is not None and constraint.choices is not None:
        body["structured_outputs"] = {"choice": list(constraint.choices)}
    elif constraint is not None and constraint.regex is not None:
        body["structured_outputs"] = {"regex": constraint.regex}
    elif constraint is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": dict(constraint.json_schema or {})},
        }
    return path, body


def first_logprobs(choice: Mapping[str, Any], chat: bool) -> tuple[tuple[str, float], ...]:
    """(token, logprob) at the first generated position, likeliest first, from a choice's
    ``logprobs`` (chat: ``content[0].top_logprobs``, a list; completions: ``top_logprobs[0]``, a
    mapping); () where the server sent none or sent them in another shape: they only refine an
    answer the text already gives, so their absence must not fail the request."""
    try:
        logprobs = choice.get("logprobs") or {}
        if chat:
            content = logprobs.get("content") or []
            pairs = [(str(t["token"]), float(t["logprob"]))
                     for t in (content[0].get("top_logprobs") or [] if content else [])]
        else:
            firsts = logprobs.get("top_logprobs") or []
            pairs = [(str(token), float(lp)) for token, lp in (firsts[0] or {}).items()
                     ] if firsts else []
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return ()
    return tuple(sorted(pairs, key=lambda pair: -pair[1]))
