"""Bytes ↔ wire models at the Kafka edge: decoding with reason codes; drafts and dead
letters out, and the headers every output carries (dead letters' own: service.headers)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from daemon import mail
from daemon.contracts import (
    DRAFT_SCHEMA_VERSION,
    DeadLetter,
    DeadLetterReason,
    Draft,
    IncomingEmail,
    SkippedEmail,
    SourceCoordinates,
)
from daemon.settings import DEADLETTER_ERROR_MAX_CHARS
from handlers.bulk import looks_like_bulk
from handlers.types import DraftText, EmailText
from models.vocabulary import SKIP_REASONS, SkipReason

IDEMPOTENCY_HEADER = "replyd-idempotency-key"
TRACE_HEADER = "replyd-trace-id"
# The record header that says what a record value is; JSON when absent (or the topic's setting).
CONTENT_TYPE_HEADER = "content-type"
JSON_CONTENT_TYPE = "application/json"
MAIL_CONTENT_TYPE = "message/rfc822"
CONTENT_TYPES = (JSON_CONTENT_TYPE, MAIL_CONTENT_TYPE)
# W3C Trace Context (https://www.w3.org/TR/trace-context/), carried from input to every output.
TRACEPARENT_HEADER = "traceparent"
TRACESTATE_HEADER = "tracestate"
MAX_TRACESTATE_BYTES = 512  # W3C: a tracestate longer than 512 characters may be dropped
# The drafts topic's records (Draft, SkippedEmail) say their schema version in a header too.
SCHEMA_VERSION_HEADER = "replyd-schema-version"
Header = tuple[str, bytes]
InHeader = tuple[str, bytes | None]  # a consumed record's: Kafka allows a null header value
_JSON: Header = (CONTENT_TYPE_HEADER, JSON_CONTENT_TYPE.encode())
_SCHEMA: Header = (SCHEMA_VERSION_HEADER, str(DRAFT_SCHEMA_VERSION).encode())
# version-traceid-parentid-flags, lowercase hex; a later version may append "-" and more.
_TRACEPARENT = re.compile(
    rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?", re.DOTALL)
_ZERO_TRACE = b"0" * 32
_ZERO_SPAN = b"0" * 16


def trace_id(topic: str, partition: int, offset: int) -> str:
    """A per-email id for logs and headers that reveals nothing of the email itself."""
    return hashlib.blake2b(f"{topic}/{partition}/{offset}".encode(), digest_size=8).hexdigest()


def child_traceparent(traceparent: bytes, span_id: str) -> bytes | None:
    """``traceparent`` (W3C Trace Context) continued by span ``span_id`` (16 lowercase hex
    digits): version 00, the same trace id and flags. None when ``traceparent`` is not valid:
    not version-traceid-parentid-flags in lowercase hex, version ff, an all-zero id, or a
    version 00 header that is not exactly 55 characters (a later version may append fields
    after a ``-``, which are dropped)."""
    match = _TRACEPARENT.fullmatch(traceparent)
    if match is None:
        return None
    version, trace, parent, flags = match.groups()
    if (version == b"ff" or (version == b"00" and len(traceparent) != 55)
            or trace == _ZERO_TRACE or parent == _ZERO_SPAN):
        return None
    if span_id == "0" * 16:  # a blake2b digest of zero: never in practice, but never invalid
        span_id = "0" * 15 + "1"
    return b"00-" + trace + b"-" + span_id.encode() + b"-" + flags


def trace_headers(record_headers: Sequence[InHeader] | None, span_id: str) -> list[Header]:
    """The ``traceparent`` (and ``tracestate``) an output of this record carries: [] unless the
    record had exactly one valid ``traceparent`` (several are ambiguous: ignored, like an
    invalid one). ``tracestate`` goes along unchanged when it is at most 512 bytes."""
    if not record_headers:
        return []
    parent: bytes | None = None
    state: bytes | None = None
    seen = 0
    for name, value in record_headers:
        lowered = name.lower()
        if lowered == TRACEPARENT_HEADER:
            parent, seen = value, seen + 1
        elif lowered == TRACESTATE_HEADER:
            state = value
    if seen != 1 or not parent:
        return []
    child = child_traceparent(parent, span_id)
    if child is None:
        return []
    out: list[Header] = [(TRACEPARENT_HEADER, child)]
    if state and len(state) <= MAX_TRACESTATE_BYTES:
        out.append((TRACESTATE_HEADER, state))
    return out


def draft_headers(
    record_headers: Sequence[InHeader] | None, key: bytes, trace: str
) -> list[Header]:
    """Headers of a draft or skipped record keyed ``key``, for the email whose
    ``replyd-trace-id`` is ``trace``: idempotency key, trace id, ``content-type:
    application/json``, ``replyd-schema-version`` and the child ``traceparent`` (trace_headers).
    Runs for every email: the constant headers are prebuilt."""
    headers = [(IDEMPOTENCY_HEADER, key), (TRACE_HEADER, trace.encode()), _JSON, _SCHEMA]
    if record_headers:
        headers += trace_headers(record_headers, trace)
    return headers


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a record could not even be parsed."""

    reason: DeadLetterReason
    error: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """An email that wants no reply (``daemon.mail.no_reply_reason``): it gets a skipped record."""

    email: IncomingEmail
    reason: SkipReason


def header_content_type(headers: Sequence[InHeader] | None) -> str | None:
    """The record's ``content-type`` header as sent (at most 128 characters), or None."""
    for key, value in headers or ():
        if key.lower() == CONTENT_TYPE_HEADER:
            return (value or b"").decode("latin-1")[:128]
    return None


def content_type(headers: Sequence[InHeader] | None, default: str) -> str:
    """The record's ``content-type`` header (parameters dropped, lower-case), else ``default``
    (a null header value reads as empty: unsupported, a dead letter, never a crash)."""
    for key, value in headers or ():
        if key.lower() == CONTENT_TYPE_HEADER:
            return (value or b"").decode("latin-1").split(";", 1)[0].strip().lower()
    return default


def decode(
    value: bytes | None, max_body_bytes: int, kind: str = JSON_CONTENT_TYPE,
    bulk_text: bool = True, spam: bool = True,
) -> IncomingEmail | Rejected | Skipped:
    """Parse one record value: an ``IncomingEmail`` as JSON, or a raw RFC 822 message when
    ``kind`` is ``message/rfc822``. Size is checked first, so nothing large is ever parsed. An
    email that wants no reply (an auto-reply, a bounce, list or bulk mail) is ``Skipped``; with
    ``bulk_text``, so is one whose own text ends in a bulk-mail footer
    (``handlers.bulk.looks_like_bulk``: "bulk"); with ``spam``, so is one the receiving mail
    system's filter marked as spam in its headers (``daemon.mail.spam_verdict``: "spam")."""
    if value is None:
        return Rejected("invalid_json", "record has no value (tombstone)")
    if len(value) > max_body_bytes:
        return Rejected("too_large", f"record is {len(value)} bytes; the limit is {max_body_bytes}")
    if kind == MAIL_CONTENT_TYPE:
        return incoming_from_mail(value, bulk_text, spam)
    if kind != JSON_CONTENT_TYPE:
        return Rejected("schema", f"unsupported content-type {kind[:80]!r}; replyd reads "
                        f"{' and '.join(CONTENT_TYPES)}")
    decoded = _decode_json(value)
    if isinstance(decoded, Rejected):
        return decoded
    headers = {key.lower(): text for key, text in decoded.headers.items()}
    reason = mail.no_reply_reason(headers, decoded.from_, headers.get("content-type", ""))
    return _skipped_or_email(decoded, reason, bulk_text, spam)


# Above this many bytes in a batch its records are decoded in a worker thread: a 20 KB text of
# short lines costs ~25 ms of thread splitting (handlers.bulk), too long for the event loop x 32.
INLINE_DECODE_BYTES = 64 * 1024


def decode_all(
    records: Sequence[tuple[bytes | None, Sequence[InHeader] | None]], max_body_bytes: int,
    default_kind: str, bulk_text: bool = True, spam: bool = True,
) -> list[IncomingEmail | Rejected | Skipped]:
    """``decode`` of each (value, headers) pair, its kind from its content-type header."""
    return [decode(value, max_body_bytes, content_type(headers, default_kind), bulk_text, spam)
            for value, headers in records]


def _skipped_or_email(email: IncomingEmail, reason: str | None, bulk_text: bool,
                      spam: bool) -> IncomingEmail | Skipped:
    # The filter's verdict first: a bounce or a list post that it calls spam is counted as spam.
    if spam and email.headers and mail.spam_verdict(email.headers):
        reason = "spam"
    if reason is None and bulk_text and looks_like_bulk(email.subject, email.body):
        reason = "bulk"
    return Skipped(email, reason) if reason in SKIP_REASONS else email  # type: ignore[arg-type]


def incoming_from_mail(raw: bytes, bulk_text: bool = True,
                       spam: bool = True) -> IncomingEmail | Rejected | Skipped:
    """A raw RFC 822 / MIME message as the ``IncomingEmail`` a gateway would have sent: the
    sender's bare address and display name, the decoded subject, the text (HTML converted),
    attachments listed, never inlined. A message without a Message-ID gets one derived from its
    bytes (so a redelivery keys the same draft); one without a sender address is rejected."""
    try:
        parsed = mail.parse_message(raw)
    except mail.MailError as exc:
        return Rejected("invalid_mail", f"not a usable RFC 822 message: {exc}")
    if not parsed.from_address or not _ADDRESS.match(parsed.from_address):
        return Rejected("invalid_mail", "RFC 822 message has no usable From address")
    message_id = parsed.message_id or (
        f"<{hashlib.sha256(raw).hexdigest()[:32]}@replyd.invalid>")
    to = parsed.to if parsed.to and _ADDRESS.match(parsed.to) else "unknown@replyd.invalid"
    try:
        email = IncomingEmail.model_validate({
            "message_id": message_id[:998],
            "from": parsed.from_address,
            "to": to,
            "subject": parsed.subject[:998],
            "body": parsed.body,
            "received_at": parsed.received_at or datetime.now(UTC),
            "thread_id": parsed.thread_id,
            "headers": parsed.headers,
            "from_name": parsed.from_name[:256] or None,
            "attachments": [
                {"filename": a.filename[:256], "content_type": a.content_type[:128],
                 "size": a.size}
                for a in parsed.attachments
            ],
        })
    except ValidationError as exc:
        return Rejected("invalid_mail", f"not an IncomingEmail: {_described(exc)}")
    return _skipped_or_email(email, parsed.skip_reason, bulk_text, spam)


def _decode_json(value: bytes) -> IncomingEmail | Rejected:
    try:
        return IncomingEmail.model_validate_json(value)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(error["type"] == "json_invalid" for error in errors):
            return Rejected("invalid_json", f"not UTF-8 JSON: {errors[0]['msg']}")
        return Rejected("schema", f"not an IncomingEmail: {_described(exc)}")


def _described(exc: ValidationError) -> str:
    """Field locations and messages only: never the input values, which are email content."""
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or '<root>'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)[:5]
    )


_ADDRESS = mail.BARE_ADDRESS


def reply_to(email: IncomingEmail) -> str:
    """The draft's recipient: Reply-To when the email names a usable one, else From."""
    return mail.reply_address(email.headers, email.from_) if email.headers else email.from_


def email_text(email: IncomingEmail) -> EmailText:
    name = email.from_name or ""
    if email.headers:  # a web form's "Website" <noreply@...> greets the customer in Reply-To
        name = mail.reply_name(email.headers, email.from_, name)
    return EmailText(message_id=email.message_id, subject=email.subject, body=email.body,
                     from_name=name)


def skipped_record(skipped: Skipped, created_at: datetime | None = None) -> bytes:
    """The drafts-topic record of an email that gets no draft."""
    return to_json(SkippedEmail(
        in_reply_to=skipped.email.message_id,
        to=reply_to(skipped.email),
        reason=skipped.reason,
        created_at=created_at or datetime.now(UTC),
    ))


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
        "to": reply_to(email),
        "subject": subject,
        "body": draft.body,
        "sentiment": draft.sentiment,
        "entities": draft.entities.as_dict(),
        "persona": draft.persona,
        "needs_review": draft.needs_review,
        "review_reasons": list(draft.review_reasons),
        "language": draft.language,
        "request": draft.request,
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
    the CPU). ``tests/daemon/service/test_codec.py`` checks the bytes against ``Draft`` field by
    field; a draft that does not fit the batch's shared part, or has an empty body, takes the
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
            '},"created_at":' + _ENCODE(when) + ',"outcome":"drafted","schema_version":'
            + _ENCODE(DRAFT_SCHEMA_VERSION) + "}"
        )

    def encode(self, email: IncomingEmail, draft: DraftText) -> bytes:
        if (draft.adapters != self._adapters or draft.timings_ms != self._timings_ms
                or not draft.body):
            return to_json(draft_for(email, draft, self._base_model, self._created_at))
        entities = draft.entities
        head = _ENCODE({
            "in_reply_to": email.message_id,
            "to": reply_to(email),
            "subject": reply_subject(email.subject),
            "body": draft.body,
            "sentiment": draft.sentiment,
            "entities": {"name": entities.name, "product": entities.product,
                         "location": entities.location},
            "persona": draft.persona,
            "needs_review": draft.needs_review,
            "review_reasons": draft.review_reasons,
            "language": draft.language,
            "request": draft.request,
        })
        usage = draft.usage
        return (
            f"{head[:-1]}{self._shared}{usage.prompt_tokens:d},"
            f'"completion":{usage.completion_tokens:d}{self._tail}'
        ).encode()


def to_json(model: Draft | DeadLetter | SkippedEmail) -> bytes:
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
    max_error_chars: int = DEADLETTER_ERROR_MAX_CHARS,
    original_content_type: str | None = None,
) -> DeadLetter:
    return DeadLetter.build(
        reason=reason,
        error=error,
        source=SourceCoordinates(topic=topic, partition=partition, offset=offset),
        original=original or b"",
        max_original_bytes=max_original_bytes,
        max_error_chars=max_error_chars,
        original_content_type=original_content_type,
    )


# A record's framing in its batch, beyond key, value and headers: the batch header (61 bytes)
# plus the record's varints and attributes, rounded up.
RECORD_FRAMING_BYTES = 128


def record_bytes(key: bytes | None, value: bytes, headers: Sequence[InHeader]) -> int:
    """An upper bound of one record's size on the wire, alone in its batch."""
    size = RECORD_FRAMING_BYTES + len(value) + (len(key) if key else 0)
    for name, header in headers:
        size += len(name.encode()) + (len(header) if header else 0) + 10
    return size


def fitting_dead_letter(
    build: Callable[[int], bytes],
    kept_bytes: int,
    original_size: int,
    max_record_bytes: int,
    extra_bytes: int,
) -> bytes:
    """The encoded dead letter (``build(max_original_bytes)``) that fits ``max_record_bytes``
    with ``extra_bytes`` of key, headers and framing: the kept prefix is shortened (to a
    multiple of 3, so base64 shrinks exactly) until it fits. Never returns an oversized value
    unless even an empty prefix does not fit."""
    keep = min(kept_bytes, original_size)
    value = build(keep)
    while len(value) + extra_bytes > max_record_bytes and keep > 0:
        excess = len(value) + extra_bytes - max_record_bytes
        # 4 base64 characters per 3 bytes; a little more so one more pass is enough.
        keep = max(0, (keep - (excess * 3 // 4 + 3)) // 3 * 3)
        value = build(keep)
    return value
