"""Bytes ↔ wire models at the Kafka edge: decoding with reason codes; drafts and dead
letters out."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from daemon.contracts import (
    DRAFT_SCHEMA_VERSION,
    DeadLetter,
    DeadLetterReason,
    Draft,
    IncomingEmail,
    SourceCoordinates,
)
from handlers.types import DraftText, EmailText

IDEMPOTENCY_HEADER = "replyd-idempotency-key"
TRACE_HEADER = "replyd-trace-id"


def trace_id(topic: str, partition: int, offset: int) -> str:
    """A per-email id for logs and headers that reveals nothing of the email itself."""
    return hashlib.blake2b(f"{topic}/{partition}/{offset}".encode(), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a record could not even be parsed."""

    reason: DeadLetterReason
    error: str


def decode(value: bytes | None, max_body_bytes: int) -> IncomingEmail | Rejected:
    """Parse one record value. Size is checked first, so nothing large is ever parsed."""
    if value is None:
        return Rejected("invalid_json", "record has no value (tombstone)")
    if len(value) > max_body_bytes:
        return Rejected("too_large", f"record is {len(value)} bytes; the limit is {max_body_bytes}")
    try:
        return IncomingEmail.model_validate_json(value)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(error["type"] == "json_invalid" for error in errors):
            return Rejected("invalid_json", f"not UTF-8 JSON: {errors[0]['msg']}")
        # Field locations and messages only: never the input values, which are email content.
        described = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '<root>'}: {error['msg']}"
            for error in errors[:5]
        )
        return Rejected("schema", f"not an IncomingEmail: {described}")


def email_text(email: IncomingEmail) -> EmailText:
    return EmailText(message_id=email.message_id, subject=email.subject, body=email.body)


def reply_subject(subject: str) -> str:
    """The draft's subject: the email's, with "Re: " in front unless it is already a reply, on
    one line (CR, LF and other whitespace runs become one space: a header can carry no break)."""
    subject = " ".join(subject.split())
    return subject if subject.lower().startswith("re:") else f"Re: {subject}".strip()


def draft_for(
    email: IncomingEmail, draft: DraftText, base_model: str, created_at: datetime | None = None
) -> Draft:
    subject = reply_subject(email.subject)
    # One validation of the whole tree (nested plain data), not one per nested model: this runs
    # for every email.
    return Draft.model_validate({
        "in_reply_to": email.message_id,
        "to": email.from_,
        "subject": subject,
        "body": draft.body,
        "sentiment": draft.sentiment,
        "entities": draft.entities.as_dict(),
        "persona": draft.persona,
        "needs_review": draft.needs_review,
        "review_reasons": list(draft.review_reasons),
        "adapters": [{"task": task, "customization_id": cid}
                     for task, cid in draft.adapters.items()],
        "base_model": base_model,
        "timings_ms": draft.timings_ms,
        "tokens": {"prompt": draft.usage.prompt_tokens,
                   "completion": draft.usage.completion_tokens},
        "created_at": created_at or datetime.now(UTC),
    })


# Compact JSON with non-ASCII text as UTF-8, as pydantic writes it; NaN is not JSON.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class DraftEncoder:
    """Record values of one batch's drafts, without a validation round trip per draft.

    Every draft of a batch shares its adapters, base model, stage timings and creation time:
    those are encoded once. The per-email fields were validated on the way in (message id,
    address, subject) or are typed by the pipeline (body, labels, spans, counts), so each draft
    is one ``json`` encode of plain data instead of building and validating a ``Draft`` (~4x
    the CPU). ``tests/daemon/service/test_codec.py`` checks the bytes against ``Draft`` field by field;
    a draft that does not fit the batch's shared part, or has an empty body, takes the
    validated path (which raises on an invalid draft)."""

    def __init__(self, adapters: dict[str, str | None], timings_ms: dict[str, float],
                 base_model: str, created_at: datetime | None = None) -> None:
        self._adapters = adapters
        self._timings_ms = timings_ms
        self._base_model = base_model
        self._created_at = created_at or datetime.now(UTC)
        shared = _ENCODE({
            "adapters": [{"task": task, "customization_id": cid} for task, cid in adapters.items()],
            "base_model": base_model,
            "timings_ms": timings_ms,
        })
        when = self._created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        self._shared = "," + shared[1:-1] + ',"tokens":{"prompt":'
        self._tail = (
            '},"created_at":' + _ENCODE(when) + ',"schema_version":' + _ENCODE(DRAFT_SCHEMA_VERSION)
            + "}"
        )

    def encode(self, email: IncomingEmail, draft: DraftText) -> bytes:
        if (draft.adapters != self._adapters or draft.timings_ms != self._timings_ms
                or not draft.body):
            return to_json(draft_for(email, draft, self._base_model, self._created_at))
        entities = draft.entities
        head = _ENCODE({
            "in_reply_to": email.message_id,
            "to": email.from_,
            "subject": reply_subject(email.subject),
            "body": draft.body,
            "sentiment": draft.sentiment,
            "entities": {"name": entities.name, "product": entities.product,
                         "location": entities.location},
            "persona": draft.persona,
            "needs_review": draft.needs_review,
            "review_reasons": draft.review_reasons,
        })
        usage = draft.usage
        return (
            f"{head[:-1]}{self._shared}{usage.prompt_tokens:d},"
            f'"completion":{usage.completion_tokens:d}{self._tail}'
        ).encode()


def to_json(model: Draft | DeadLetter) -> bytes:
    """The record value: ``model_dump_json(by_alias=True)`` as bytes, without the round trip
    through ``str`` that ``model_dump_json`` makes."""
    return model.__pydantic_serializer__.to_json(model, by_alias=True)


def dead_letter(
    reason: DeadLetterReason,
    error: str,
    topic: str,
    partition: int,
    offset: int,
    original: bytes | None,
    max_original_bytes: int,
) -> DeadLetter:
    return DeadLetter.build(
        reason=reason,
        error=error,
        source=SourceCoordinates(topic=topic, partition=partition, offset=offset),
        original=original or b"",
        max_original_bytes=max_original_bytes,
    )
