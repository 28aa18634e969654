"""Prompts that always fit: cutting the quoted email to a token budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.budget import CUT_MARKER, PromptBudget, cut_middle
from models.engines.base import estimate_tokens


def words(text: str) -> int:
    return len(text.split())


def test_text_that_fits_is_unchanged() -> None:
    text = "Hello, my kettle is broken. Dana"
    assert PromptBudget(words, 100).fit(text) == text


def test_a_long_text_keeps_its_start_and_end_and_says_how_much_was_cut() -> None:
    text = "START " + "filler " * 2000 + "END"
    fitted = PromptBudget(words, 60).fit(text)
    assert words(fitted) <= 60
    assert fitted.startswith("START")
    assert fitted.endswith("END")
    assert "characters cut" in fitted


@pytest.mark.parametrize("text", [
    "界" * 6000,  # CJK: about a token per character or more
    "😀" * 4000,
    "QUJD" * 3000,  # base64
    "x" * 8192,  # one long word
    "Short English question about my order. " + "漢字" * 3000,
])
def test_hostile_texts_fit_by_the_estimate(text: str) -> None:
    budget = PromptBudget(estimate_tokens, 500)
    assert estimate_tokens(budget.fit(text)) <= 500


def test_a_zero_budget_gives_the_marker_alone() -> None:
    fitted = PromptBudget(words, 0).fit("a b c d e f")
    assert "characters cut" in fitted and "a b" not in fitted


def test_the_character_bound_applies_before_counting() -> None:
    seen: list[int] = []

    def count(text: str) -> int:
        seen.append(len(text))
        return 1

    PromptBudget(count, 100, max_chars=1000).fit("y" * 1_000_000)
    assert max(seen) < 1000 + len(CUT_MARKER) + 20


def test_cut_middle_cuts_at_whitespace_when_near() -> None:
    cut = cut_middle("alpha beta gamma delta epsilon zeta eta theta", 20)
    head, tail = cut.split("characters cut")
    assert head.split("[")[0].rstrip() in ("alpha beta", "alpha")
    assert tail.strip(" .]\n") in ("eta theta", "theta")
    assert len(cut_middle("short", 20)) == 5


def test_estimate_is_an_upper_bound_for_the_default_tokenizer(model_path: Path) -> None:
    from models.engines.base import tokenizer_counter

    count = tokenizer_counter(model_path)
    if count is None:
        pytest.skip("no tokenizers library")
    for text in ("Hello Dana, thanks for the note about the kettle. " * 20, "界" * 500,
                 "😀" * 300, "QUJDRA==" * 200, "4111 1111 1111 1111 " * 50, "1-" * 800,
                 "@." * 800, "\x00" * 300, "Ünïcödé façade naïve " * 30):
        assert count(text) <= estimate_tokens(text)
