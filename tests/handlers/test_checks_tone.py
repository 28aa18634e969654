"""Brush-offs (handlers.checks_tone): the garbled clauses after an apology that read as a rude
answer, found, cut by the mend, and not confused with a conditional question."""

from __future__ import annotations

import pytest

from handlers.checks import check_draft
from handlers.checks_tone import brush_offs, cut_brush_offs
from handlers.repair import repair
from handlers.types import EmailText, Entities

IRON = EmailText("<i@x>", "Broken", "My Glide cordless iron leaks. Order 5521. Elif Halvorsen")
FOUND = Entities(name=("Elif Halvorsen",), product=("Glide cordless iron",))
SIGNED = "\n\nBest regards,\nThe replyd support team"


@pytest.mark.parametrize("clause", [
    "that's all we can say about it",
    "that's not the case with this purchase",
    "that's not the kind of issue we've seen so far",
    "that doesn't mean anything to us",
    "that is not the issue with your case",
    "it's already been addressed",
    "this is not our problem",
    "there's nothing more we can do",
    "that\u2019s all we can say about it",  # a typographic apostrophe, as models write it
])
def test_brush_offs_fail_the_draft_and_the_mend_cuts_the_clause(clause: str) -> None:
    body = (f"Hi Elif,\n\nSorry about the trouble with your Glide cordless iron; {clause}. Could "
            "you tell us where it leaks, so we can help?" + SIGNED)
    failed = check_draft(body, IRON, "negative", FOUND)
    assert "brush_off" in failed
    mended = repair(body, failed, IRON, "negative", FOUND)
    assert mended == ("Hi Elif,\n\nSorry about the trouble with your Glide cordless iron. Could "
                      "you tell us where it leaks, so we can help?" + SIGNED)
    assert check_draft(mended, IRON, "negative", FOUND) == ()


@pytest.mark.parametrize("text", [
    "If that's not the case, let us know.",
    "Let us know whether that's not the problem.",
    "We're sorry; that's not the quality we aim for.",  # what the replies are trained on
    "It is not the first time, we know.",
    "That's all fixed now.",
])
def test_questions_and_the_trained_clause_are_no_brush_offs(text: str) -> None:
    assert brush_offs(text) == []
    assert cut_brush_offs(text) == text


def test_a_brush_off_that_opens_its_sentence_goes_with_it() -> None:
    assert cut_brush_offs("Thanks. That's all we can say about it. Bye.") == "Thanks. Bye."
    assert cut_brush_offs("Sorry — that's not our fault!\nOk") == "Sorry!\nOk"
    assert cut_brush_offs("There's nothing we can do") == ""
