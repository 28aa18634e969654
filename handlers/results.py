"""What the pipeline keeps of one engine call: a refused request, the parsed free text, the
tokens spent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from handlers import persona, reply
from models.engines.base import GenerateResult
from models.errors import OutputError


def kept_empty(parse: Callable[[GenerateResult], str]) -> Callable[[GenerateResult], str]:
    """``parse`` (a reply's or a rewrite's), but an empty text is kept (as "") for the checks
    to fail, not dropped: a draft is written again, a rewrite leaves the plain draft."""
    def parse_kept(result: GenerateResult) -> str:
        try:
            return parse(result)
        except OutputError:
            return ""
    return parse_kept


parse_reply, parse_rewrite = kept_empty(reply.parse), kept_empty(persona.parse)


@dataclass(frozen=True, slots=True)
class Refused:
    """The engine refused this one request; its email becomes an ``engine_request`` failure."""

    error: str


def total(results: Sequence[GenerateResult | Refused]) -> list[int]:
    done = [r for r in results if not isinstance(r, Refused)]
    return [sum(r.prompt_tokens for r in done), sum(r.completion_tokens for r in done)]
