"""Prompts that always fit: the email text cut to a token budget, keeping its start and its end.

An email can be far longer than the model's context (a pasted log, a base64 blob, 6,000 CJK
characters). Every stage quotes it, so :class:`PromptBudget` cuts the text once, before any
prompt is built, to the tokens the served model's tokenizer counts, leaving room for the longest
stage's instructions, facts, thread context and output. The cut keeps two thirds of the room
for the start (where the request usually is) and one third for the end (the sign-off, the
question asked last), with a marker in between that says how much was cut.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

TokenCounter = Callable[[str], int]

# Characters looked at, at most, whatever the budget: a bound on the tokenizer's work per email.
MAX_EMAIL_CHARS = 6000
CUT_MARKER = "\n[... {n} characters cut ...]\n"
_MARKER = re.compile(r"\[\.\.\. \d+ characters cut \.\.\.\]")
# Room a cut leaves unused, so that one more fitting round is rarely needed.
_SLACK = 0.92
_MAX_ROUNDS = 6
# How far back from a cut point to look for whitespace, so words are not split.
_WORD_SEARCH = 40


def without_cut_markers(text: str) -> str:
    """``text`` with every cut marker blanked: words the marker holds are replyd's, not the
    sender's (an entity "1812 characters cut" is no place)."""
    return _MARKER.sub(" ", text) if "characters cut" in text else text


def cut_middle(text: str, keep_chars: int) -> str:
    """``text`` with its middle replaced by a marker, ``keep_chars`` characters kept (two
    thirds from the start, one third from the end), cut at whitespace where one is near."""
    if len(text) <= keep_chars:
        return text
    keep_chars = max(keep_chars, 0)
    head_end = keep_chars * 2 // 3
    tail_start = len(text) - (keep_chars - head_end)
    space = text.rfind(" ", max(head_end - _WORD_SEARCH, 0), head_end)
    if space > 0:
        head_end = space
    space = text.find(" ", tail_start, min(tail_start + _WORD_SEARCH, len(text)))
    if space != -1:
        tail_start = space + 1
    cut = tail_start - head_end
    return f"{text[:head_end].rstrip()}{CUT_MARKER.format(n=cut)}{text[tail_start:].lstrip()}"


@dataclass(frozen=True, slots=True)
class PromptBudget:
    """How many tokens an email's quoted text may take, and the tokenizer that counts them."""

    count: TokenCounter
    email_tokens: int
    max_chars: int = MAX_EMAIL_CHARS

    def fit(self, text: str) -> str:
        """``text`` unchanged when it fits, else cut in the middle until it does. The result
        always fits (an empty budget gives the marker alone)."""
        original = text
        if len(text) > self.max_chars:
            text = cut_middle(text, self.max_chars)
        budget = max(self.email_tokens, 0)
        tokens = self.count(text)
        if tokens <= budget:
            return text
        keep = min(len(text), self.max_chars)
        for _ in range(_MAX_ROUNDS):
            # Characters per token of this text, applied to the budget (less the marker).
            keep = int(keep * budget / max(tokens, 1) * _SLACK) - len(CUT_MARKER) - 8
            if keep <= 0:
                break
            text = cut_middle(original, keep)
            tokens = self.count(text)
            if tokens <= budget:
                return text
        return CUT_MARKER.format(n=len(original)).strip()
