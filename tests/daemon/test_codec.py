from __future__ import annotations

import json

from daemon.codec import Rejected, decode
from daemon.contracts import IncomingEmail
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
