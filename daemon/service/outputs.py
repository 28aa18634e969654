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
    """A dead letter for ``record``, logged by reason and coordinates (never its content)."""
    letter = codec.dead_letter(
        reason,  # type: ignore[arg-type]
        error,
        record.topic,
        record.partition,
        record.offset,
        record.value,
        settings.deadletter_max_original_bytes,
    )
    trace = codec.trace_id(record.topic, record.partition, record.offset)
    log.warning(
        "dead letter",
        extra={"reason": reason, "trace_id": trace, "topic": record.topic,
               "partition": record.partition, "offset": record.offset},
    )
    coordinates = f"{record.topic}/{record.partition}/{record.offset}".encode()
    return Output(
        settings.deadletter_topic,
        record.key,
        codec.to_json(letter),
        [(codec.IDEMPOTENCY_HEADER, coordinates), (codec.TRACE_HEADER, trace.encode())],
        reason,
    )
