"""The echo engine: instant, schema-valid outputs with no model at all.

For transport tests and the Kafka-ceiling benchmark only: it exercises everything around
inference. Choices are picked by a stable hash of the prompt; JSON constraints get the smallest
instance of their schema; free text echoes the first line of the
last message. Timings are real but trivial: no queue, and every token arrives at the end.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from models.engine import (
    AdapterInfo,
    Engine,
    GenerateRequest,
    GenerateResult,
    PendingRequests,
    RequestTiming,
)
from models.errors import EngineDeadError


class EchoEngine(Engine):
    name = "echo"

    def __init__(
        self, adapters: Mapping[str, AdapterInfo] | None = None, delay_ms: float = 0.0
    ) -> None:
        self._adapters = dict(adapters or {})
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
        messages = request.messages
        if request.prompt is not None:
            last = request.prompt
            prompt_tokens = _word_count(last)
        else:
            assert messages is not None
            last = messages[-1].content
            # A word count stands in for tokens (str.count: no list of words is built).
            prompt_tokens = sum([_word_count(message.content) for message in messages])
        constraint = request.constraint
        if constraint is not None and constraint.choices is not None:
            prompt = last if messages is None else "\n".join([m.content for m in messages])
            digest = hashlib.blake2b(prompt.encode(), digest_size=4).digest()
            text = constraint.choices[int.from_bytes(digest) % len(constraint.choices)]
        elif constraint is not None and constraint.json_schema is not None:
            text = self._instance_json(constraint.json_schema)
        else:
            lines = [line for line in last.splitlines() if line.strip()]
            words = (lines[0] if lines else "echo").split()
            text = " ".join(words[: request.sampling.max_tokens])
        completion_tokens = min(len(text.split()), request.sampling.max_tokens)
        return GenerateResult(text, "stop", prompt_tokens, completion_tokens, timing)

    def _instance_json(self, schema: Mapping[str, Any]) -> str:
        # Schemas are module constants: keyed by identity, holding the schema so the id stays its.
        cached = self._instances.get(id(schema))
        if cached is None or cached[0] is not schema:
            cached = self._instances[id(schema)] = (schema, json.dumps(minimal_instance(schema)))
        return cached[1]


def _word_count(text: str) -> int:
    """Words separated by single spaces or newlines: ``len(text.split())`` for ordinary text."""
    return text.count(" ") + text.count("\n") + 1 if text else 0


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
