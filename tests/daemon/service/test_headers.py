"""Record headers of drafts, skipped records and dead letters: W3C traceparent carried as a
child, schema version and content type, dead-letter context and the original headers kept as
long as the letter fits."""

from __future__ import annotations

import base64
import json

import pytest
from aiokafka import ConsumerRecord

from daemon.contracts import DRAFT_SCHEMA_VERSION, DeadLetter, IncomingEmail
from daemon.service import codec, headers
from daemon.service.codec import child_traceparent, draft_headers, record_bytes, trace_headers
from daemon.service.outputs import dead, skipped
from daemon.settings import Settings
from models.errors import EngineError
from models.vocabulary import DEAD_LETTER_REASONS
from tests.daemon.test_contracts import EMAIL

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{PARENT}-01".encode()
SPAN = codec.trace_id("in", 0, 7)


def _record(value: bytes | None, record_headers: list[tuple[str, bytes | None]] | None = None,
            key: bytes | None = b"k", topic: str = "in", offset: int = 7) -> ConsumerRecord:
    return ConsumerRecord(topic, 0, offset, 0, 0, key, value, None, len(key or b""),
                          len(value or b""), record_headers or [])


def test_a_valid_traceparent_gets_a_child_with_the_same_trace_and_flags() -> None:
    child = child_traceparent(VALID, SPAN)
    assert child == f"00-{TRACE}-{SPAN}-01".encode()
    assert len(child) == 55 and SPAN != PARENT
    assert child_traceparent(f"00-{TRACE}-{PARENT}-00".encode(), SPAN).endswith(b"-00")
    # A later version may append fields after a dash: the first 55 characters are read.
    assert child_traceparent(f"01-{TRACE}-{PARENT}-01-extra".encode(), SPAN) == child
    # The span id is never all zeros, even if a digest were.
    assert child_traceparent(VALID, "0" * 16) == f"00-{TRACE}-{'0' * 15}1-01".encode()


@pytest.mark.parametrize("value", [
    VALID.upper(),  # upper-case hex
    VALID[:-1],  # 54 characters
    VALID + b"0",  # version 00 longer than 55
    VALID + b"-x",  # version 00 with extra fields
    b"01" + VALID[2:] + b"x",  # a later version, extra not after a dash
    b"ff" + VALID[2:],  # the forbidden version
    f"00-{'0' * 32}-{PARENT}-01".encode(),  # all-zero trace id
    f"00-{TRACE}-{'0' * 16}-01".encode(),  # all-zero parent id
    f"00-{TRACE}-{PARENT}_01".encode(),  # wrong separator
    f"00-{TRACE[:-1]}--{PARENT}-01".encode()[:55],  # a dash where a digit belongs
    f"00-{TRACE[:-1]}g-{PARENT}-01".encode(),  # not hex
    b"",
])
def test_an_invalid_traceparent_is_ignored(value: bytes) -> None:
    assert child_traceparent(value, SPAN) is None
    assert trace_headers([("traceparent", value)], SPAN) == []


def test_trace_headers_need_exactly_one_traceparent_and_carry_tracestate() -> None:
    assert trace_headers(None, SPAN) == trace_headers([], SPAN) == []
    assert trace_headers([("tenant", b"acme")], SPAN) == []
    assert trace_headers([("traceparent", None)], SPAN) == []
    assert trace_headers([("traceparent", VALID), ("traceparent", VALID)], SPAN) == []
    child = child_traceparent(VALID, SPAN)
    assert trace_headers([("Traceparent", VALID), ("tracestate", b"congo=t61rcWkgMzE")],
                         SPAN) == [("traceparent", child), ("tracestate", b"congo=t61rcWkgMzE")]
    assert trace_headers([("traceparent", VALID), ("tracestate", b"x" * 513)],
                         SPAN) == [("traceparent", child)]


def test_draft_headers_say_json_and_the_schema_version_and_are_deterministic() -> None:
    key = b"<m@x>"
    plain = draft_headers(None, key, SPAN)
    assert plain == [("replyd-idempotency-key", key), ("replyd-trace-id", SPAN.encode()),
                     ("content-type", b"application/json"), ("replyd-schema-version", b"4")]
    assert str(DRAFT_SCHEMA_VERSION).encode() == dict(plain)["replyd-schema-version"]
    traced = draft_headers([("traceparent", VALID), ("tenant", b"acme")], key, SPAN)
    assert traced == [*plain, ("traceparent", f"00-{TRACE}-{SPAN}-01".encode())]
    assert traced == draft_headers([("traceparent", VALID)], key, SPAN)  # a resend: the same
    assert dict(draft_headers([("traceparent", b"junk")], key, SPAN)) == dict(plain)


def test_skipped_records_carry_the_draft_headers() -> None:
    email = IncomingEmail.model_validate(EMAIL)
    out = skipped(_record(b"{}", [("traceparent", VALID)]), codec.Skipped(email, "bulk"),
                  "drafts")
    assert out.headers == draft_headers([("traceparent", VALID)], email.message_id.encode(),
                                        SPAN)


def test_the_exception_message_is_capped_in_characters_and_bytes() -> None:
    assert headers.capped_message("short") == b"short"
    ascii_cut = headers.capped_message("a" * 5000)
    assert ascii_cut == b"a" * 997 + "…".encode()  # 998 characters, 1000 bytes
    wide = headers.capped_message("é" * 900)  # 900 characters but 1800 bytes
    assert len(wide) <= 1000 and wide.decode().endswith("…")
    assert headers.capped_message("é" * 500) == ("é" * 500).encode()  # exactly 1000 bytes
    assert headers.capped_message("\udcff bad") == b"? bad"  # a lone surrogate, not a crash


def test_error_headers_name_the_source_the_reason_and_the_class() -> None:
    got = dict(headers.error_headers("in", 2, 41, "schema", "body: field required"))
    assert got == {"replyd.errors.topic": b"in", "replyd.errors.partition": b"2",
                   "replyd.errors.offset": b"41", "replyd.errors.reason": b"schema",
                   "replyd.errors.exception.class": b"daemon.service.codec.Rejected",
                   "replyd.errors.exception.message": b"body: field required"}
    failed = dict(headers.error_headers("in", 0, 1, "engine_output", "x"))
    assert failed["replyd.errors.exception.class"] == b"handlers.types.TaskFailure"
    raised = dict(headers.error_headers("in", 0, 1, "engine_error", "x", EngineError("down")))
    assert raised["replyd.errors.exception.class"] == b"models.errors.EngineError"
    assert all(dict(headers.error_headers("in", 0, 1, reason, "x"))
               .get("replyd.errors.exception.class") for reason in DEAD_LETTER_REASONS)


def test_dead_letters_carry_context_and_the_original_headers_but_no_email_text() -> None:
    secret = "customer-secret-text"
    original = json.dumps({**EMAIL, "body": {"x": secret}}).encode()
    own = [("traceparent", VALID), ("tenant", b"acme"), ("content-type", b"application/json"),
           ("replyd-idempotency-key", b"clash"), ("empty", None)]
    out = dead(_record(original, own), "schema", "body: not a string", Settings())
    got = dict(out.headers)
    assert got["replyd-idempotency-key"] == b"in/0/7"  # ours, not the original's
    assert got["content-type"] == b"application/json"
    assert got["traceparent"] == f"00-{TRACE}-{SPAN}-01".encode()
    assert got["replyd.errors.topic"] == b"in" and got["replyd.errors.offset"] == b"7"
    assert got["replyd.errors.reason"] == b"schema"
    assert got["replyd.errors.exception.message"] == b"body: not a string"
    assert [(n, v) for n, v in out.headers if n.startswith("replyd.original.")] == [
        ("replyd.original.traceparent", VALID), ("replyd.original.tenant", b"acme"),
        ("replyd.original.content-type", b"application/json"),
        ("replyd.original.replyd-idempotency-key", b"clash"), ("replyd.original.empty", b"")]
    assert "replyd.errors.original.headers.dropped" not in got
    assert not any(secret.encode() in v for _, v in out.headers)
    assert len({n for n, _ in out.headers}) == len(out.headers)  # no name twice
    # Replay gets the producer's headers back, not replyd's.
    assert headers.restored_headers(out.headers) == [
        ("traceparent", VALID), ("tenant", b"acme"), ("content-type", b"application/json"),
        ("empty", b"")]


def test_original_headers_give_way_before_the_original_does() -> None:
    settings = Settings()
    limit = settings.max_body_bytes
    whole = b"q" * limit
    bulky = [("traceparent", VALID), *((f"h{i}", b"v" * 2000) for i in range(20))]
    out = dead(_record(whole, bulky), "schema", "bad", settings)
    letter = DeadLetter.model_validate_json(out.value)
    assert not letter.original_truncated and base64.b64decode(letter.original_b64) == whole
    got = dict(out.headers)
    assert got["replyd.errors.original.headers.dropped"] == b"21"
    assert not any(n.startswith("replyd.original.") for n in got)
    assert got["traceparent"] == f"00-{TRACE}-{SPAN}-01".encode()  # the context stays
    assert record_bytes(out.key, out.value, out.headers) <= settings.max_record_bytes
    # Small headers next to the largest accepted email stay.
    out = dead(_record(whole, bulky[:3]), "schema", "é\x00" * 5000, settings)
    assert dict(out.headers)["replyd.original.h1"] == b"v" * 2000
    assert not DeadLetter.model_validate_json(out.value).original_truncated
    assert record_bytes(out.key, out.value, out.headers) <= settings.max_record_bytes
    # A too_large record: headers first, then the prefix, and still within the limit.
    huge = b"z" * 3_000_000
    out = dead(_record(huge, [("big", b"b" * 400_000)]), "too_large", "x", settings)
    assert dict(out.headers)["replyd.errors.original.headers.dropped"] == b"1"
    assert DeadLetter.model_validate_json(out.value).original_truncated
    assert record_bytes(out.key, out.value, out.headers) <= settings.max_record_bytes


def test_an_exception_names_its_own_class() -> None:
    out = dead(_record(b"{}"), "engine_error", "engine error: down", Settings(),
               exception=EngineError("down"))
    assert dict(out.headers)["replyd.errors.exception.class"] == b"models.errors.EngineError"


def test_the_context_headers_fit_the_envelope_the_settings_reserve() -> None:
    """At the tightest legal max_record_bytes, a letter keeping the largest accepted email whole
    still fits with every context header (a 1,000-character error, a long topic, tracestate)."""
    from daemon.settings import dead_letter_bound

    body = 300_000
    settings = Settings(max_body_bytes=body, max_record_bytes=dead_letter_bound(body))
    traced = [("traceparent", VALID), ("tracestate", b"s" * 512)]
    record = _record(b"w" * body, traced, key=b"k" * 200, topic="t" * 249)
    out = dead(record, "engine_output", "sentiment: " + "x" * 2000, settings)
    assert not DeadLetter.model_validate_json(out.value).original_truncated
    assert "replyd.errors.original.headers.dropped" not in dict(out.headers)
    assert record_bytes(out.key, out.value, out.headers) <= settings.max_record_bytes
