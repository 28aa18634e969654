"""The records a consumed record turns into, besides a draft: a dead letter, or a skipped record
for an email that wants no reply. Their headers: codec.draft_headers, daemon.service.headers."""

from __future__ import annotations

import logging

from daemon.service import codec, headers
from daemon.service.publisher import Output, Record
from daemon.settings import Settings

log = logging.getLogger("daemon.service.daemon")


def skipped(record: Record, email: codec.Skipped, drafts_topic: str) -> Output:
    """An email that wants no reply: a skipped record on the drafts topic, keyed like a draft."""
    key = email.email.message_id.encode()
    trace = codec.trace_id(record.topic, record.partition, record.offset)
    return Output(drafts_topic, key, codec.skipped_record(email),
                  codec.draft_headers(record.headers, key, trace), f"skipped:{email.reason}")


def dead(record: Record, reason: str, error: str, settings: Settings,
         exception: BaseException | None = None) -> Output:
    """A dead letter for ``record``, logged by reason and coordinates (never its content).

    It keeps the whole original up to ``settings.kept_original_bytes`` (every accepted email,
    by default) and always fits ``max_record_bytes``. What gives way when it would not fit, in
    order: the original record's headers (all of them, replaced by a header that counts them),
    then the kept original (a shorter prefix, marked truncated). ``exception``: the exception
    behind the failure, when the caller has one (its class goes in a header)."""
    trace = codec.trace_id(record.topic, record.partition, record.offset)
    coordinates = f"{record.topic}/{record.partition}/{record.offset}".encode()
    own = [(codec.IDEMPOTENCY_HEADER, coordinates), (codec.TRACE_HEADER, trace.encode()),
           (codec.CONTENT_TYPE_HEADER, codec.JSON_CONTENT_TYPE.encode()),
           *codec.trace_headers(record.headers, trace),
           *headers.error_headers(record.topic, record.partition, record.offset, reason, error,
                                  exception)]
    originals = headers.original_headers(record.headers)
    original = record.value or b""

    def build(max_original_bytes: int) -> bytes:
        return codec.to_json(codec.dead_letter(
            reason,  # type: ignore[arg-type]
            error,
            record.topic,
            record.partition,
            record.offset,
            original,
            max_original_bytes,
            original_content_type=codec.header_content_type(record.headers),
        ))

    keep = min(settings.kept_original_bytes, len(original))
    out_headers = own + originals
    value = build(keep)
    if codec.record_bytes(record.key, value, out_headers) > settings.max_record_bytes:
        if originals:
            out_headers = [*own, headers.dropped_marker(len(originals))]
        value = codec.fitting_dead_letter(
            build, keep, len(original), settings.max_record_bytes,
            codec.record_bytes(record.key, b"", out_headers))
    log.warning(
        "dead letter",
        extra={"reason": reason, "trace_id": trace, "topic": record.topic,
               "partition": record.partition, "offset": record.offset},
    )
    return Output(settings.deadletter_topic, record.key, value, out_headers, reason)
