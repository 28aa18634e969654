from __future__ import annotations

import json
import random

from aiokafka.partitioner import DefaultPartitioner, murmur2

from daemon import codec
from daemon.codec import Rejected, decode
from daemon.contracts import IncomingEmail
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


def test_partitions_match_the_kafka_default_partitioner() -> None:
    rng = random.Random(7)
    keys = [bytes(rng.randrange(256) for _ in range(n)) for n in range(70) for _ in range(20)]
    keys += [b"<synth-5-eval-0@replyd.example>", "<é@ü.example>".encode()]
    for key in keys:
        assert codec.murmur2(key) == murmur2(key), key
    for count in (1, 2, 3, 12):
        ids = list(range(count))
        for key in keys[:200]:
            assert codec.partition_for(key, ids) == DefaultPartitioner()(key, ids, ids)
    assert codec.partition_for(None, [4, 5]) in (4, 5)


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
