"""One spelling of an entities answer: ``handlers.entities.answer``.

Training targets, few-shot examples, the parser's fast path, the echo engine and the engines'
JSON grammar must all spell the same entities as the same string, or an adapter learns a spelling
its grammar forbids and the parser's shortcut never fires on real model output.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from daemon.tools.customize import render_row
from daemon.tools.evaluate import few_shot_examples
from handlers import entities
from handlers.types import ENTITY_FIELDS
from models.engines.base import GenerateRequest
from models.engines.echo import EchoEngine
from models.synth.emails import entity_examples

# Non-ASCII on purpose: the grammar takes "ó" as written, never as a \u escape.
FOUND = {"name": ["Ana Wójcik"], "product": ["AeroBlend 500"], "location": ["São Paulo", "Porto"]}
COMPACT = (
    '{"name":["Ana Wójcik"],"product":["AeroBlend 500"],"location":["São Paulo","Porto"]}'
)
NOTHING = '{"name":[],"product":[],"location":[]}'


def test_the_answer_is_compact_json_in_field_order() -> None:
    assert entities.answer(FOUND) == COMPACT
    assert entities.answer({}) == NOTHING
    assert list(json.loads(entities.answer({"location": ["Porto"]}))) == list(ENTITY_FIELDS)


def test_training_targets_are_the_answer() -> None:
    rows = [{"text": "Ana Wójcik, São Paulo", "entities": FOUND}, *entity_examples(20, seed=0)]
    for row in rows:
        _, completion = render_row("entities", row)
        assert completion == entities.answer(row["entities"])
    assert render_row("entities", rows[0])[1] == COMPACT


def test_few_shot_examples_are_the_answer() -> None:
    rows = entity_examples(10, seed=0)
    shots = few_shot_examples("entities", 10)
    assert [answer for _, answer in shots] == [entities.answer(r["entities"]) for r in rows]
    assert any(not answer.isascii() for _, answer in shots)  # non-ASCII shown as written


def test_the_parser_fast_path_takes_the_answer_and_the_echo_output() -> None:
    assert entities._NOTHING == NOTHING

    async def echo() -> str:
        engine = EchoEngine()
        await engine.start()
        request = GenerateRequest(prompt="x", constraint=entities.CONSTRAINT)
        [result] = await engine.generate([request])
        return result.text

    assert asyncio.run(echo()) == NOTHING


def test_the_grammar_accepts_the_answer_and_nothing_else() -> None:
    xgrammar = pytest.importorskip("xgrammar")
    from xgrammar.testing import _is_grammar_accept_string

    from models.engines.peft_grammar import JSON_GRAMMAR_OPTIONS

    # The grammar the peft engine compiles for the entities constraint (and vLLM's, whose
    # xgrammar backend compiles with the same options under disable_any_whitespace).
    grammar = xgrammar.Grammar.from_json_schema(json.dumps(entities.SCHEMA), **JSON_GRAMMAR_OPTIONS)
    for found in (FOUND, {}, *(r["entities"] for r in entity_examples(10, seed=0))):
        assert _is_grammar_accept_string(grammar, entities.answer(found))
    assert not _is_grammar_accept_string(grammar, json.dumps(FOUND, ensure_ascii=False))
    assert not _is_grammar_accept_string(grammar, json.dumps(FOUND, separators=(",", ":")))
    assert not _is_grammar_accept_string(grammar, json.dumps({f: [] for f in ENTITY_FIELDS}))
