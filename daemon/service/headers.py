"""Record headers of dead letters, and what replay restores from them.

Every output carries ``replyd-idempotency-key``, ``replyd-trace-id`` and, when the input record
had a valid one, a child W3C ``traceparent`` (codec.draft_headers, codec.trace_headers). A dead
letter also carries ``content-type: application/json``, the context headers ``replyd.errors.*``
(where the record came from and why it failed: Kafka Connect's convention, in our namespace)
and the original record's headers, each under ``replyd.original.<its name>`` so that none
clashes with ours. Originals that would push the letter past ``max_record_bytes`` are dropped,
all of them, and ``replyd.errors.original.headers.dropped`` says how many (outputs.dead).

The context headers hold names, coordinates, a reason code and the error message (the letter's
``error``, capped): never the email. The original headers are the producer's, copied as sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from daemon.service import codec
from handlers.types import TaskFailure
from models.errors import EngineError

Header = codec.Header
InHeader = codec.InHeader

ERRORS_PREFIX = "replyd.errors."
ERROR_TOPIC = ERRORS_PREFIX + "topic"
ERROR_PARTITION = ERRORS_PREFIX + "partition"
ERROR_OFFSET = ERRORS_PREFIX + "offset"
ERROR_REASON = ERRORS_PREFIX + "reason"
ERROR_CLASS = ERRORS_PREFIX + "exception.class"
ERROR_MESSAGE = ERRORS_PREFIX + "exception.message"
ORIGINAL_HEADERS_DROPPED = ERRORS_PREFIX + "original.headers.dropped"
ORIGINAL_PREFIX = "replyd.original."
# The exception message header: at most this many characters and this many UTF-8 bytes, so the
# context headers stay well inside DEADLETTER_ENVELOPE_BYTES next to the letter's own envelope.
MAX_MESSAGE_CHARS = 1_000
MAX_MESSAGE_BYTES = 1_000


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# When the caller has no exception object: the class of what reported the failure. The edge
# rejects with a ``codec.Rejected``, the pipeline with a ``TaskFailure``; an ``engine_error``
# letter comes from an ``EngineError`` the daemon caught.
_FAILURE_CLASS: dict[str, str] = {
    "invalid_json": _qualified(codec.Rejected),
    "schema": _qualified(codec.Rejected),
    "too_large": _qualified(codec.Rejected),
    "invalid_mail": _qualified(codec.Rejected),
    "engine_output": _qualified(TaskFailure),
    "engine_request": _qualified(TaskFailure),
    "engine_error": _qualified(EngineError),
}


def capped_message(error: str) -> bytes:
    """``error`` as UTF-8, at most ``MAX_MESSAGE_CHARS`` characters and ``MAX_MESSAGE_BYTES``
    bytes, cut on a character boundary and ended with "…" when cut."""
    if len(error) > MAX_MESSAGE_CHARS:
        error = error[: MAX_MESSAGE_CHARS - 1] + "…"
    data = error.encode("utf-8", "replace")
    if len(data) <= MAX_MESSAGE_BYTES:
        return data
    return data[: MAX_MESSAGE_BYTES - 3].decode("utf-8", "ignore").encode() + "…".encode()


def error_headers(
    topic: str, partition: int, offset: int, reason: str, error: str,
    exception: BaseException | None = None,
) -> list[Header]:
    """The dead letter's context headers. ``exception.class`` is the raised exception's class
    when the caller has it, else the class of what reported the failure (``_FAILURE_CLASS``)."""
    if exception is not None:
        failure_class = _qualified(type(exception))
    else:
        failure_class = _FAILURE_CLASS.get(reason, "")
    headers = [
        (ERROR_TOPIC, topic.encode()),
        (ERROR_PARTITION, str(partition).encode()),
        (ERROR_OFFSET, str(offset).encode()),
        (ERROR_REASON, reason.encode()),
    ]
    if failure_class:
        headers.append((ERROR_CLASS, failure_class.encode()))
    headers.append((ERROR_MESSAGE, capped_message(error)))
    return headers


def original_headers(record_headers: Sequence[InHeader] | None) -> list[Header]:
    """The record's own headers, each under ``replyd.original.<name>``, in order (a null value
    becomes an empty one)."""
    return [(ORIGINAL_PREFIX + name, value or b"") for name, value in record_headers or ()]


def dropped_marker(count: int) -> Header:
    """Says that ``count`` original headers were dropped so the letter fits."""
    return (ORIGINAL_HEADERS_DROPPED, str(count).encode())


def restored_headers(letter_headers: Sequence[InHeader] | None) -> list[Header]:
    """The original headers a dead letter preserved, under their own names again, except
    replyd's own (``replyd-*``, ``replyd.*``: an earlier replay's ``replyd-replayed-from``, say):
    what replay sends with the original bytes."""
    out: list[Header] = []
    for name, value in letter_headers or ():
        if name.startswith(ORIGINAL_PREFIX):
            original = name[len(ORIGINAL_PREFIX):]
            if original and not original.lower().startswith(("replyd-", "replyd.")):
                out.append((original, value or b""))
    return out
