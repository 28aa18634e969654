"""The peft engine's grammar compilation, without a model (a tiny byte vocabulary stands in)."""

from __future__ import annotations

import pytest

from models.engines.base import Constraint
from models.errors import UnsupportedRequestError

xgrammar = pytest.importorskip("xgrammar")

from xgrammar.testing import _is_grammar_accept_string  # noqa: E402

from models.engines.peft_grammar import Grammars, choices_ebnf, ebnf_literal  # noqa: E402

VOCAB = [chr(i) for i in range(32, 127)] + ["</s>"]


@pytest.fixture(scope="module")
def grammars() -> Grammars:
    info = xgrammar.TokenizerInfo(VOCAB, stop_token_ids=[len(VOCAB) - 1])
    return Grammars(xgrammar, xgrammar.GrammarCompiler(info, max_threads=1), len(VOCAB))


@pytest.mark.parametrize("choice", ["positive", 'say "hi"', "back\\slash", "tab\there", "ünï"])
def test_a_choice_literal_matches_exactly_itself(choice: str) -> None:
    grammar = xgrammar.Grammar.from_ebnf(choices_ebnf([choice, "other"]))
    assert _is_grammar_accept_string(grammar, choice)
    assert _is_grammar_accept_string(grammar, "other")
    assert not _is_grammar_accept_string(grammar, choice + " ")


def test_ebnf_literal_escapes_quotes_backslashes_and_controls() -> None:
    assert ebnf_literal('a"b\\c\n') == '"a\\"b\\\\c\\u000a"'


def test_compiled_grammars_are_cached(grammars: Grammars) -> None:
    schema = Constraint(json_schema={"type": "object", "properties": {"a": {"type": "string"}}})
    assert grammars.compile(schema) is grammars.compile(schema)
    labels = Constraint(choices=("yes", "no"))
    assert grammars.compile(labels) is grammars.compile(labels)
    assert grammars.compile(labels) is not grammars.compile(schema)
    line = Constraint(regex=r"(yes|no)\|[^|]*")
    assert grammars.compile(line) is grammars.compile(Constraint(regex=line.regex))
    assert grammars.compile(line) is not grammars.compile(labels)


def test_a_regex_constraint_accepts_its_matches_only(grammars: Grammars) -> None:
    compiled = grammars.compile(Constraint(regex=r"(yes|no)\|[^|\n]*"))

    def accepts(text: str) -> bool:
        matcher = xgrammar.GrammarMatcher(compiled)
        return bool(matcher.accept_string(text)) and matcher.is_completed()

    assert accepts("yes|Anna Berg; Oslo") and accepts("no|")
    assert not accepts("maybe|x") and not accepts("yes|a|b") and not accepts("yes")


def test_a_grammar_that_does_not_compile_is_unsupported(grammars: Grammars) -> None:
    with pytest.raises(UnsupportedRequestError, match="json constraint"):
        grammars.compile(Constraint(json_schema={"type": "no-such-type"}))
