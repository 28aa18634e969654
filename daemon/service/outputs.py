"""The records a consumed record turns into, besides a draft: a dead letter, or a skipped record
for an email that wants no reply. Each carries the idempotency and trace headers."""

from __future__ import annotations

import logging

from daemon.service import codec
from daemon.service.publisher import Output, Record
from daemon.settings import Settings

log = logging.getLogger("daemon.service.daemon")


def skipped(record: Record, email: codec.Skipped, drafts_topic: str) -> Output:
    """An email that wants no reply: a skipped record on the drafts topic, keyed like a draft."""
    key = email.email.message_id.encode()
    trace = codec.trace_id(record.topic, record.partition, record.offset).encode()
    return Output(drafts_topic, key, codec.skipped_record(email),
                  [(codec.IDEMPOTENCY_HEADER, key), (codec.TRACE_HEADER, trace)],
                  f"skipped:{email.reason}")


def dead(record: Record, reason: str, error: str, settings: Settings) -> Output:
    """A dead letter for ``record``, logged by reason and coordinates (never its content).

    It keeps the whole original up to ``settings.kept_original_bytes`` (every accepted email,
    by default) and always fits ``max_record_bytes``: should the letter still be too large (a
    too_large record, a huge key), the kept prefix is shortened and marked truncated."""
    trace = codec.trace_id(record.topic, record.partition, record.offset)
    coordinates = f"{record.topic}/{record.partition}/{record.offset}".encode()
    headers = [(codec.IDEMPOTENCY_HEADER, coordinates), (codec.TRACE_HEADER, trace.encode())]
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

    value = codec.fitting_dead_letter(
        build,
        settings.kept_original_bytes,
        len(original),
        settings.max_record_bytes,
        codec.record_bytes(record.key, b"", headers),
    )
    log.warning(
        "dead letter",
        extra={"reason": reason, "trace_id": trace, "topic": record.topic,
               "partition": record.partition, "offset": record.offset},
    )
    return Output(settings.deadletter_topic, record.key, value, headers, reason)
