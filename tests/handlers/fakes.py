"""A scripted engine for unit tests of pipeline logic only (integration tests use real engines)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from models.engines.base import AdapterInfo, Engine, GenerateRequest, GenerateResult

Script = Callable[[GenerateRequest], GenerateResult]


class ScriptedEngine(Engine):
    name = "scripted"

    def __init__(self, script: Script, failures: Sequence[BaseException] = ()) -> None:
        self._script = script
        self._failures = list(failures)
        self.calls: list[list[GenerateRequest]] = []

    @property
    def base_model(self) -> str:
        return "scripted"

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def healthy(self) -> bool:
        return True

    def adapters(self) -> Mapping[str, AdapterInfo]:
        return {}

    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        self.calls.append(list(requests))
        if self._failures:
            raise self._failures.pop(0)
        return [self._script(request) for request in requests]


def result(text: str, finish_reason: str = "stop") -> GenerateResult:
    return GenerateResult(text, finish_reason, prompt_tokens=10, completion_tokens=3)
