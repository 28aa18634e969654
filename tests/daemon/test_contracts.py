from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from daemon.contracts import DeadLetter, IncomingEmail, SourceCoordinates, schema_documents
from tests.conftest import REPO

EMAIL = {
    "message_id": "<m1@example.com>",
    "from": "ana@example.com",
    "to": "support@replyd.example",
    "subject": "Broken kettle",
    "body": "Hello, my kettle broke.",
    "received_at": "2026-11-26T06:00:00Z",
}


def test_committed_schemas_match_the_models() -> None:
    for name, text in schema_documents().items():
        committed = (REPO / "docs" / "schemas" / name).read_text(encoding="utf-8")
        assert committed == text, f"docs/schemas/{name} is stale: run `make schemas`"


def test_incoming_email_uses_the_from_alias_and_tolerates_unknown_fields() -> None:
    email = IncomingEmail.model_validate(EMAIL)
    assert email.from_ == "ana@example.com"
    assert json.loads(email.model_dump_json(by_alias=True))["from"] == "ana@example.com"
    assert not email.model_extra
    # A mail system that adds a field must not dead-letter its traffic.
    extended = IncomingEmail.model_validate({**EMAIL, "surprise": 1})
    assert extended.body == email.body and extended.model_extra == {"surprise": 1}
    with pytest.raises(ValidationError):
        IncomingEmail.model_validate({**EMAIL, "from": "not an address"})
    with pytest.raises(ValidationError):
        IncomingEmail.model_validate({**EMAIL, "message_id": ""})


def test_dead_letter_keeps_small_originals_whole_and_large_ones_as_prefix_plus_hash() -> None:
    source = SourceCoordinates(topic="t", partition=0, offset=5)
    small = b"\x00\xffnot json"
    letter = DeadLetter.build("invalid_json", "bad", source, small, max_original_bytes=64)
    assert base64.b64decode(letter.original_b64) == small
    assert not letter.original_truncated
    big = bytes(range(256)) * 10
    letter = DeadLetter.build("too_large", "big", source, big, max_original_bytes=100)
    assert letter.original_truncated
    assert base64.b64decode(letter.original_b64) == big[:100]
    assert letter.original_size == len(big)
    assert letter.original_sha256 == hashlib.sha256(big).hexdigest()
    assert letter.failed_at.tzinfo is not None and letter.failed_at <= datetime.now(UTC)
