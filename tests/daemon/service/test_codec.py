from __future__ import annotations

import json

import pytest

from daemon.contracts import IncomingEmail
from daemon.service import codec
from daemon.service.codec import Rejected, decode
from handlers.types import DraftText, Entities, Usage
from tests.daemon.test_contracts import EMAIL


def test_valid_email_decodes() -> None:
    decoded = decode(json.dumps(EMAIL).encode(), max_body_bytes=10_000)
    assert isinstance(decoded, IncomingEmail)


def test_each_kind_of_bad_input_gets_its_reason_code() -> None:
    cases = {
        b"": "invalid_json",
        b"{not json": "invalid_json",
        b"\xff\xfe\x00": "invalid_json",
        b'"just a string"': "schema",
        b"[]": "schema",
        json.dumps({**EMAIL, "body": 5}).encode(): "schema",
        json.dumps({k: v for k, v in EMAIL.items() if k != "from"}).encode(): "schema",
        b"x" * 301: "too_large",
    }
    for raw, reason in cases.items():
        decoded = decode(raw, max_body_bytes=300)
        assert isinstance(decoded, Rejected), raw[:20]
        assert decoded.reason == reason, (raw[:20], decoded)
    assert decode(None, 100) == Rejected("invalid_json", "record has no value (tombstone)")


def test_schema_errors_never_echo_the_input() -> None:
    secret = "customer-secret-text"
    decoded = decode(json.dumps({**EMAIL, "body": {"x": secret}}).encode(), 10_000)
    assert isinstance(decoded, Rejected)
    assert secret not in decoded.error
    assert "body" in decoded.error


def test_record_values_are_the_models_json() -> None:
    email = IncomingEmail.model_validate(EMAIL)
    text = DraftText(body="Hi Ana.", sentiment="neutral", entities=Entities(name=("Ana",)),
                     persona=None, needs_review=False, adapters={"reply": None},
                     usage=Usage(3, 4), timings_ms={"reply": 1.5})
    draft = codec.draft_for(email, text, "base")
    assert codec.to_json(draft) == draft.model_dump_json(by_alias=True).encode()
    assert json.loads(codec.to_json(draft))["to"] == email.from_  # the alias "from" → "to"
    letter = codec.dead_letter("schema", "bad", "in", 0, 7, b"{}", 1024)
    assert codec.to_json(letter) == letter.model_dump_json().encode()


def _text(**changes: object) -> DraftText:
    fields: dict[str, object] = dict(
        body="Hi Ana, sorry about the kettle.", sentiment="negative",
        entities=Entities(name=("Ana",), product=("kettle", "lid"), location=()),
        persona=None, needs_review=False, adapters={"sentiment": "s-1", "reply": None},
        usage=Usage(123, 45), timings_ms={"sentiment+entities": 12.5, "reply": 0.001},
    )
    fields.update(changes)
    return DraftText(**fields)  # type: ignore[arg-type]


def test_the_batch_encoder_writes_the_validated_drafts_json() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from daemon.contracts import Draft

    shared = _text()
    stamps = [datetime(2026, 11, 26, 18, 0, 0, tzinfo=UTC),
              datetime(2026, 11, 26, 18, 0, 0, 120, tzinfo=UTC),
              datetime(2026, 11, 26, 20, 30, 5, 999_999, tzinfo=timezone(timedelta(hours=2)))]
    emails = [
        IncomingEmail.model_validate(EMAIL),
        IncomingEmail.model_validate({**EMAIL, "subject": "RE: already a reply "}),
        IncomingEmail.model_validate({**EMAIL, "subject": "", "message_id": '<"q"\\@x>'}),
        IncomingEmail.model_validate({**EMAIL, "subject": "Ünïcode ✓ \u2028 tab\there"}),
    ]
    texts = [
        shared,
        _text(body='Quotes " and \\ and\nnew lines \x01 and emoji 🎉', persona="pirate",
              needs_review=True, entities=Entities(), usage=Usage(0, 0)),
        _text(sentiment="positive", entities=Entities(location=("Lyon", "São Paulo"))),
        _text(needs_review=True, review_reasons=("repetition", "prompt_echo")),
        _text(request="refund_status", language="en"),
    ]
    for when in stamps:
        encoder = codec.DraftEncoder(shared.adapters, shared.timings_ms, "base", when)
        for email in emails:
            for text in texts:
                encoded = encoder.encode(email, text)
                expected = codec.draft_for(email, text, "base", when)
                # The same draft as the validated path, and the same keys in the same order.
                assert Draft.model_validate_json(encoded) == expected
                assert list(json.loads(encoded)) == list(json.loads(codec.to_json(expected)))


def test_drafts_that_do_not_share_the_batch_part_take_the_validated_path() -> None:
    import pytest
    from pydantic import ValidationError

    from daemon.contracts import Draft

    email = IncomingEmail.model_validate(EMAIL)
    shared = _text()
    encoder = codec.DraftEncoder(shared.adapters, shared.timings_ms, "base")
    other = _text(adapters={"reply": "r-2"}, timings_ms={"reply": 3.0})
    decoded = Draft.model_validate_json(encoder.encode(email, other))
    assert [a.customization_id for a in decoded.adapters] == ["r-2"]
    assert decoded.timings_ms == {"reply": 3.0}
    with pytest.raises(ValidationError):  # an empty body is no draft
        encoder.encode(email, _text(body=""))


def test_draft_subjects_carry_no_line_breaks() -> None:
    assert codec.reply_subject("Broken\r\nBcc: victim@example.com") == (
        "Re: Broken Bcc: victim@example.com")
    assert codec.reply_subject("RE:\tlate\n parcel") == "RE: late parcel"
    assert codec.reply_subject("") == "Re:"


def test_unknown_fields_are_accepted_and_visible_to_the_counter() -> None:
    decoded = decode(json.dumps({**EMAIL, "x-gateway": "v2"}).encode(), max_body_bytes=10_000)
    assert isinstance(decoded, IncomingEmail) and decoded.model_extra == {"x-gateway": "v2"}


def _record(value: bytes, key: bytes | None = b"k") -> object:
    from aiokafka import ConsumerRecord

    return ConsumerRecord("emails.incoming", 0, 7, 0, 0, key, value, None, len(key or b""),
                          len(value), [])


def test_dead_letters_keep_every_accepted_byte_and_fit_the_broker() -> None:
    import base64

    from daemon.contracts import DeadLetter
    from daemon.service.codec import record_bytes
    from daemon.service.outputs import dead
    from daemon.settings import Settings

    settings = Settings()
    limit = settings.max_body_bytes
    whole = bytes(range(256)) * (limit // 256) + b"x" * (limit % 256)
    assert len(whole) == limit
    out = dead(_record(whole), "schema", "é\x00" * 5000, settings)  # type: ignore[arg-type]
    letter = DeadLetter.model_validate_json(out.value)
    assert not letter.original_truncated and base64.b64decode(letter.original_b64) == whole
    assert len(letter.error) == 1000
    assert record_bytes(out.key, out.value, out.headers) <= settings.max_record_bytes
    over = whole + b"y"
    assert decode(over, limit) == Rejected("too_large", f"record is {limit + 1} bytes; "
                                           f"the limit is {limit}")
    out = dead(_record(over), "too_large", "too large", settings)  # type: ignore[arg-type]
    letter = DeadLetter.model_validate_json(out.value)
    assert letter.original_truncated and letter.original_size == limit + 1
    assert over.startswith(base64.b64decode(letter.original_b64))
    assert record_bytes(out.key, out.value, out.headers) <= settings.max_record_bytes
    # Something far larger still fits, as a shorter prefix.
    huge = b"z" * 3_000_000
    out = dead(_record(huge, key=b"k" * 100_000), "too_large", "x", settings)  # type: ignore[arg-type]
    assert record_bytes(out.key, out.value, out.headers) <= settings.max_record_bytes
    assert DeadLetter.model_validate_json(out.value).original_truncated


def test_max_body_bytes_must_fit_max_record_bytes() -> None:
    from pydantic import ValidationError

    from daemon.settings import Settings

    with pytest.raises(ValidationError, match="max_body_bytes 1048576 does not fit max_record"):
        Settings(max_body_bytes=1_048_576)
    assert Settings(max_body_bytes=1_048_576, max_record_bytes=1_500_000).max_body_bytes


def test_a_null_header_value_is_read_as_empty_not_a_crash() -> None:
    # Kafka allows a header without a value; aiokafka hands it over as None.
    assert codec.content_type([("content-type", None)], "application/json") == ""
    assert codec.header_content_type([("Content-Type", None)]) == ""
    rejected = decode(b"{}", 100, codec.content_type([("content-type", None)], "x"))
    assert isinstance(rejected, Rejected) and rejected.reason == "schema"
    assert codec.record_bytes(b"k", b"v", [("a", None), ("bb", b"123")]) == (
        codec.RECORD_FRAMING_BYTES + 2 + (1 + 10) + (2 + 3 + 10))
