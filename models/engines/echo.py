"""The echo engine: instant, schema-valid outputs with no model at all.

For transport tests and the Kafka-ceiling benchmark only: it exercises everything around
inference. Choices are picked by the length of the last message; JSON constraints get the
smallest instance of their schema, spelled as the engines' grammars spell JSON (compact); free
text echoes the first line of the last message; prompt tokens are estimated at four characters
each. Timings are real but trivial: no queue, and every token arrives at the end.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re._parser as _regex_parser  # the stdlib's own regex parser (sre_parse before 3.11)
import time
from collections.abc import Mapping, Sequence
from typing import Any

from models.engines.base import (
    AdapterInfo,
    Engine,
    GenerateRequest,
    GenerateResult,
    PendingRequests,
    RequestTiming,
)
from models.errors import EngineDeadError
from models.vocabulary import JSON_SEPARATORS


class EchoEngine(Engine):
    name = "echo"

    def __init__(
        self,
        adapters: Mapping[str, AdapterInfo] | None = None,
        delay_ms: float = 0.0,
        context_tokens: int | None = None,
    ) -> None:
        """``context_tokens``: the context the daemon fits prompts to, as a real model's
        ``max_model_len`` (tokens counted by the default estimate)."""
        self._adapters = dict(adapters or {})
        self._context_tokens = context_tokens
        self._delay_s = delay_ms / 1000
        self._running = False
        self._pending = PendingRequests()
        self._instances: dict[int, tuple[Mapping[str, Any], str]] = {}

    @property
    def base_model(self) -> str:
        return "echo"

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False

    def healthy(self) -> bool:
        return self._running

    def adapters(self) -> Mapping[str, AdapterInfo]:
        return self._adapters

    def queue_depth(self) -> int:
        """Requests inside a ``generate`` call (only ever non-zero with a ``delay_ms``)."""
        return self._pending.count

    def context_tokens(self) -> int | None:
        return self._context_tokens

    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        if not self._running:
            raise EngineDeadError("the echo engine is not started")
        for request in requests:
            self.check_adapter(request.adapter)
        submitted = time.perf_counter()
        with self._pending.hold(len(requests)):
            if self._delay_s:
                # Stands in for inference time in transport and chaos tests.
                await asyncio.sleep(self._delay_s)
            # No queue; the whole text is there at once, so the first token comes with the last.
            total = time.perf_counter() - submitted
            timing = RequestTiming(queue_s=0.0, ttft_s=total, total_s=total)
            return [self._one(request, timing) for request in requests]

    def _one(self, request: GenerateRequest, timing: RequestTiming) -> GenerateResult:
        # The echo engine stands in for a model around which everything else is measured, so it
        # does as little as it can: the last message's length (the email's) picks a choice, and
        # prompt tokens are counted at the usual ~4 characters per token.
        if request.prompt is not None:
            last = request.prompt
            prompt_chars = len(last)
        else:
            assert request.messages is not None
            last = request.messages[-1].content
            prompt_chars = sum([len(message.content) for message in request.messages])
        constraint = request.constraint
        if constraint is not None and constraint.choices is not None:
            text = constraint.choices[len(last) % len(constraint.choices)]
        elif constraint is not None and constraint.json_schema is not None:
            text = self._instance_json(constraint.json_schema)
        elif constraint is not None and constraint.regex is not None:
            text = minimal_match(constraint.regex)
        else:
            first_line = last.lstrip().split("\n", 1)[0]
            text = " ".join(first_line.split()[: request.sampling.max_tokens]) or "echo"
        completion_tokens = min(text.count(" ") + 1, request.sampling.max_tokens)
        return GenerateResult(text, "stop", max(1, prompt_chars // 4), completion_tokens, timing)

    def _instance_json(self, schema: Mapping[str, Any]) -> str:
        # Schemas are module constants: keyed by identity, holding the schema so the id stays its.
        cached = self._instances.get(id(schema))
        if cached is None or cached[0] is not schema:
            if len(self._instances) >= 64:  # schemas made per request must not pile up
                self._instances.clear()
            # Spelled as the engines' JSON grammars spell it (compact, non-ASCII as written).
            instance = minimal_instance(schema)
            text = json.dumps(instance, ensure_ascii=False, separators=JSON_SEPARATORS)
            cached = self._instances[id(schema)] = (schema, text)
        return cached[1]


def minimal_instance(schema: Mapping[str, Any]) -> Any:
    """The smallest value valid against a (simple) JSON schema."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: minimal_instance(properties[key]) for key in schema.get("required", [])}
    if kind == "array":
        return []
    if kind == "string":
        return ""
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return None


@functools.lru_cache(maxsize=64)
def minimal_match(regex: str) -> str:
    """A shortest string matching a (simple) regular expression: the first branch of every
    alternation, the fewest repeats, the first character of every class."""
    return _shortest(_regex_parser.parse(regex))


def _shortest(items: Any) -> str:
    out: list[str] = []
    for op, value in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(value))
        elif name == "IN":
            out.append(_class_member(value))
        elif name == "ANY":
            out.append("a")
        elif name == "SUBPATTERN":
            out.append(_shortest(value[-1]))
        elif name == "BRANCH":
            out.append(_shortest(value[1][0]))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, body = value
            out.append(_shortest(body) * low)
        else:  # anchors and the like match the empty string
            continue
    return "".join(out)


def _class_member(items: Any) -> str:
    """A character of a class: its first literal or range start; for a negated class, the first
    letter it does not exclude."""
    kinds = [(str(op), value) for op, value in items]
    if kinds and kinds[0][0] == "NEGATE":
        banned = {v for k, v in kinds[1:] if k == "LITERAL"}
        ranges = [v for k, v in kinds[1:] if k == "RANGE"]
        return next(c for c in "abcdefghijklmnopqrstuvwxyz0123456789_-"
                    if ord(c) not in banned and not any(lo <= ord(c) <= hi for lo, hi in ranges))
    for kind, value in kinds:
        if kind == "LITERAL":
            return chr(value)
        if kind == "RANGE":
            return chr(value[0])
    return "a"
