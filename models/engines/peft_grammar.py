"""Constrained decoding for the peft engine: a ``Constraint`` compiled by xgrammar into a token
mask applied to the logits of transformers' ``generate``.

The peft engine uses xgrammar's grammar matchers, not its ``contrib.hf.LogitsProcessor``, which
constrains every row of a batch and asserts on padded rows: :class:`GrammarMask` keeps one matcher
per constrained row and masks only that row's logits; unconstrained rows in the same batch are
left alone.

* A JSON schema compiles to single-line JSON with the compact separators of
  ``models.vocabulary.JSON_SEPARATORS`` and no free whitespace (a small model can loop on
  whitespace), exactly what vLLM's structured output emits, so both engines give the same text
  for the same adapter. Properties come in schema order.
* A ``choices`` constraint compiles to an EBNF alternation of the choices as literals.
* A ``regex`` constraint compiles with xgrammar's own regex reader, as vLLM's xgrammar backend
  compiles it.

xgrammar is optional: without it :meth:`Grammars.for_tokenizer` returns ``None`` and the engine
refuses constrained requests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from models.engines.base import Constraint
from models.errors import UnsupportedRequestError
from models.vocabulary import JSON_SEPARATORS

if TYPE_CHECKING:
    import torch

# How JSON schemas are compiled (``GrammarCompiler.compile_json_schema`` keywords): the spelling
# the engines emit.
JSON_GRAMMAR_OPTIONS: dict[str, Any] = {
    "any_whitespace": False,
    "separators": JSON_SEPARATORS,
    "strict_mode": True,
}
_CACHE_SIZE = 256


class Grammars:
    """Compiles constraints for one tokenizer, keeping the compiled grammars in a bounded cache.

    Not thread-safe: the peft engine calls it under its model lock.
    """

    def __init__(self, xgr: Any, compiler: Any, vocab_size: int) -> None:
        self._xgr = xgr
        self._compiler = compiler
        self._vocab_size = vocab_size
        self._cache: dict[tuple[str, Any], Any] = {}

    @classmethod
    def for_tokenizer(
        cls, tokenizer: Any, vocab_size: int, stop_token_ids: Iterable[int]
    ) -> Grammars | None:
        """Grammars for a Hugging Face tokenizer, or ``None`` when xgrammar is not installed."""
        try:
            import xgrammar
        except ImportError:
            return None
        info = xgrammar.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=sorted(stop_token_ids)
        )
        compiler = xgrammar.GrammarCompiler(info, max_threads=min(8, os.cpu_count() or 1))
        return cls(xgrammar, compiler, vocab_size)

    def compile(self, constraint: Constraint) -> Any:
        """The ``xgrammar.CompiledGrammar`` of a constraint; ``UnsupportedRequestError`` when it
        does not compile."""
        choices = constraint.choices
        # Not the sorted schema_text(): xgrammar emits properties in schema order.
        key: tuple[str, Any]
        if choices is not None:
            key = ("choices", choices)
        elif constraint.regex is not None:
            key = ("regex", constraint.regex)
        else:
            key = ("json", json.dumps(constraint.json_schema))
        grammar = self._cache.get(key)
        if grammar is None:
            try:
                if choices is not None:
                    grammar = self._compiler.compile_grammar(
                        self._xgr.Grammar.from_ebnf(choices_ebnf(choices))
                    )
                elif key[0] == "regex":
                    grammar = self._compiler.compile_grammar(self._xgr.Grammar.from_regex(key[1]))
                else:
                    grammar = self._compiler.compile_json_schema(key[1], **JSON_GRAMMAR_OPTIONS)
            except (RuntimeError, ValueError) as error:
                raise UnsupportedRequestError(
                    f"cannot compile the {key[0]} constraint: {error}"
                ) from error
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = grammar
        return grammar

    def mask(self, grammars: list[Any]) -> GrammarMask:
        """A logits processor for one batch; ``grammars`` holds each row's compiled grammar or
        ``None`` for an unconstrained row."""
        return GrammarMask(self._xgr, grammars, self._vocab_size)


class GrammarMask:
    """Masks the logits of constrained rows with one xgrammar matcher per row."""

    def __init__(self, xgr: Any, grammars: list[Any], vocab_size: int) -> None:
        self._xgr = xgr
        self._matchers = [None if g is None else xgr.GrammarMatcher(g) for g in grammars]
        self._bitmask = xgr.allocate_token_bitmask(len(grammars), vocab_size)
        self._vocab_size = vocab_size
        self._first = True

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """transformers' ``LogitsProcessor`` call: ``scores`` masked in place and returned."""
        if not self._first:
            last = input_ids[:, -1].tolist()
            for i, matcher in enumerate(self._matchers):
                # A row that ended on EOS, or on its own limit (then fed padding the grammar
                # rejects), is finished: stop constraining it.
                if matcher is not None and (
                    not matcher.accept_token(last[i]) or matcher.is_terminated()
                ):
                    self._matchers[i] = None
        self._first = False
        active = [i for i, matcher in enumerate(self._matchers) if matcher is not None]
        if active:
            for i in active:
                self._matchers[i].fill_next_token_bitmask(self._bitmask, i)
            self._xgr.apply_token_bitmask_inplace(
                scores, self._bitmask.to(scores.device), vocab_size=self._vocab_size,
                indices=active
            )
        return scores


def choices_ebnf(choices: Iterable[str]) -> str:
    """An xgrammar EBNF grammar matching exactly one of ``choices``."""
    return "root ::= " + " | ".join(ebnf_literal(choice) for choice in choices)


def ebnf_literal(text: str) -> str:
    """A double-quoted xgrammar EBNF string literal matching ``text`` exactly."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


__all__ = ["JSON_GRAMMAR_OPTIONS", "GrammarMask", "Grammars", "choices_ebnf", "ebnf_literal"]
