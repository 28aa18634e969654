"""The engine interface's own rules, and how the OpenAI engine maps them (no server)."""

from __future__ import annotations

import pytest

from handlers import reply
from models.engines.base import (
    MAX_STOP_STRINGS,
    Constraint,
    GenerateRequest,
    Message,
    SamplingParams,
)
from models.engines.openai_wire import request_body
from models.errors import ConfigurationError


def test_sampling_refuses_what_an_openai_server_would_refuse() -> None:
    SamplingParams(stop=("a",) * MAX_STOP_STRINGS)
    with pytest.raises(ConfigurationError, match="stop strings"):
        SamplingParams(stop=("a",) * (MAX_STOP_STRINGS + 1))
    with pytest.raises(ConfigurationError):
        SamplingParams(repetition_penalty=0)
    with pytest.raises(ConfigurationError):
        SamplingParams(top_k=-1)


def test_reply_decoding_maps_onto_the_openai_request() -> None:
    request = GenerateRequest(messages=(Message("user", "hi"),),
                              sampling=reply.sampling(96, repetition_penalty=1.15))
    _, body = request_body(request, "m")
    assert body["stop"] == list(reply.STOP) and len(body["stop"]) <= MAX_STOP_STRINGS
    assert body["repetition_penalty"] == 1.15
    _, plain = request_body(GenerateRequest(messages=(Message("user", "hi"),)), "m")
    assert "repetition_penalty" not in plain  # off: left out, so any server accepts it


def test_a_constraint_is_exactly_one_kind() -> None:
    assert Constraint(regex="a+").regex == "a+"
    for kinds in ({}, {"regex": "a", "choices": ("a",)}, {"regex": "a", "json_schema": {}},
                  {"json_schema": {}, "choices": ("a",), "regex": "a"}):
        with pytest.raises(ConfigurationError, match="exactly one"):
            Constraint(**kinds)  # type: ignore[arg-type]
