"""Hard-wrapped mail unwrapped for the model: paragraphs joined, everything else kept."""

from __future__ import annotations

from handlers.budget import PromptBudget
from handlers.prepare import prepare
from handlers.reflow import MAX_WRAP_WIDTH, unwrap
from handlers.types import EmailText
from models.engines.base import estimate_tokens
from models.synth.emails import generate_emails

WRAPPED = (
    "Hi,\n"
    "\n"
    "I'm trying to set up a Pinewick smart thermostat that I bought from you\n"
    "last week. The unit is installed and heating works manually, but the app\n"
    "setup fails at the \"Connect to Wi-Fi\" step every time.\n"
    "\n"
    "A few things are missing from the box:\n"
    "\n"
    "- the charging dock (the power cable is in the box, but no dock to plug it\n"
    "  into)\n"
    "- one of the two side brushes\n"
    "1. the spare filter that's listed on the box and in the quick-start guide\n"
    "\n"
    "Thanks,\n"
    "Lena Hoffmann\n"
)


def test_a_wrapped_paragraph_becomes_one_line_and_the_rest_keeps_its_lines() -> None:
    lines = unwrap(WRAPPED).split("\n")
    assert lines[2] == (
        "I'm trying to set up a Pinewick smart thermostat that I bought from you last week. "
        "The unit is installed and heating works manually, but the app setup fails at the "
        "\"Connect to Wi-Fi\" step every time.")
    # list items keep their own lines (a wrapped item takes its continuation along)
    assert "- the charging dock (the power cable is in the box, but no dock to plug it into)" \
        in lines
    assert "- one of the two side brushes" in lines
    assert any(line.startswith("1. the spare filter") for line in lines)
    # greeting, blank lines, sign-off and signature as they were
    assert lines[:2] == ["Hi,", ""]
    assert lines[-3:] == ["Thanks,", "Lena Hoffmann", ""]
    assert unwrap(WRAPPED).split() == WRAPPED.split()  # nothing but line breaks changed


def test_text_not_wrapped_by_a_client_is_left_alone() -> None:
    one_line = ("Hi,\n\n" + "My order is late and nobody answers my emails. " * 4
                + "\n\nThanks,\nDana")
    assert max(len(line) for line in one_line.split("\n")) > MAX_WRAP_WIDTH
    assert unwrap(one_line) == one_line
    short_lines = "Hi,\nwhere is my parcel?\nIt was due on Monday.\nDana"
    assert unwrap(short_lines) == short_lines
    assert unwrap("") == ""


def test_unwrapping_twice_changes_nothing_more() -> None:
    once = unwrap(WRAPPED)
    assert unwrap(once) == once


def test_the_generators_mail_is_never_changed() -> None:
    # The adapters were trained on this mail: unwrapping must not move a synthetic figure.
    for email in generate_emails(300, seed=5, split="eval", more_cases=True):
        assert unwrap(email.body) == email.body


def test_the_stages_quote_the_unwrapped_text_and_the_checks_the_received_one() -> None:
    prepared = prepare(EmailText("<w@x>", "Thermostat", WRAPPED, from_name="Lena Hoffmann"),
                       PromptBudget(estimate_tokens, 1024))
    assert "bought from you last week." in prepared.text.body
    assert "bought from you\nlast week." in prepared.source.body
