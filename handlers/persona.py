"""Persona: rewrites a reply draft in the configured company voice, keeping every fact."""

from __future__ import annotations

from handlers.prompting import quote_text
from handlers.reply import finish_text, sampling
from models.engines.base import GenerateRequest, GenerateResult, Message, SamplingParams

TASK = "persona"


def messages(draft: str, persona: str) -> tuple[Message, ...]:
    system = (
        f"Rewrite the reply between <email> tags in the voice of the {persona} persona. Keep every "
        "name, product and fact exactly; add no new promises."
    )
    return (Message("system", system), Message("user", f"{quote_text(draft)}\nRewrite:"))


def build_request(
    draft: str,
    persona: str,
    adapter: str | None,
    max_tokens: int,
    decoding: SamplingParams | None = None,
) -> GenerateRequest:
    """The rewrite request; ``decoding`` replaces the default (greedy up to ``max_tokens``)."""
    return GenerateRequest(
        messages=messages(draft, persona),
        adapter=adapter,
        sampling=decoding or sampling(max_tokens),
    )


def parse(result: GenerateResult) -> str:
    return finish_text(result, "persona")
