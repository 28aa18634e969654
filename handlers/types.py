"""The frozen values handlers work with. Wire formats (pydantic) stay in ``daemon``."""

from __future__ import annotations

from dataclasses import dataclass, field

# The shared words, re-exported for the handlers' callers; defined in models.vocabulary.
from models.vocabulary import ENTITY_FIELDS, SENTIMENTS, FailureReason, Sentiment

__all__ = ["ENTITY_FIELDS", "SENTIMENTS", "DraftText", "EmailText", "Entities", "FailureReason",
           "Sentiment", "TaskFailure", "Usage"]


@dataclass(frozen=True, slots=True)
class EmailText:
    """What the handlers see of an email: its text fields, nothing about Kafka.

    ``body`` is the whole text as it arrived (quoted history included); the pipeline splits it
    (:func:`handlers.thread.split_thread`) and its stages see the newly written text, the reply
    also a bounded slice of the thread (``thread``)."""

    message_id: str
    subject: str
    body: str
    from_name: str = ""  # the sender's display name, "" when none
    thread: str = ""  # quoted history, as context for the reply; set by the pipeline
    # What the email asks for (handlers.topic.label), read off the event loop by the pipeline;
    # "" when not read yet (the reply prompt then reads it itself).
    request: str = ""


@dataclass(frozen=True, slots=True)
class Entities:
    name: tuple[str, ...] = ()
    product: tuple[str, ...] = ()
    location: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        return {"name": list(self.name), "product": list(self.product), "location": list(self.location)}


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one email cost across the stages it went through."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True, slots=True)
class DraftText:
    """The pipeline's result for one email."""

    body: str
    sentiment: Sentiment
    entities: Entities
    persona: str | None
    needs_review: bool
    adapters: dict[str, str | None]
    usage: Usage
    timings_ms: dict[str, float] = field(default_factory=dict)
    # Why a person must read it (failed checks of a fallback, "steering", "language",
    # "no_request").
    review_reasons: tuple[str, ...] = ()
    language: str | None = None  # ISO 639-1 code of the newly written text
    # The request the email reads as (a key of handlers.topic.LABELS), or "unclear".
    request: str | None = None


@dataclass(frozen=True, slots=True)
class TaskFailure:
    """The pipeline could not draft this email; it becomes a dead letter."""

    reason: FailureReason
    task: str
    error: str
