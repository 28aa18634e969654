"""A note of what the email never said is invented; a note of the products it names is not."""

from __future__ import annotations

import pytest

from handlers.checks import INVENTED_FACTS, check_draft
from handlers.checks_note import invented_note, invented_notes
from handlers.repair import repair
from handlers.types import EmailText, Entities
from models.synth.emails import draft_reply, generate_emails

REFUND = ("I returned my Brisa 300 air purifier three weeks ago (RMA-55817) and the refund has "
          "still not reached my card.")
CAMERA = ("My Sentinel security camera stopped working after three days. I already own the "
          "Piccolo espresso machine and the R5 vacuum from you.")


@pytest.mark.parametrize("sentence", [
    "We've noted that the parcel is still within reach.",
    "We've also made a note of the return center's operations.",
    "We've noted that you'd like it to be canceled for once.",
    # The billing-period answer's frame with another clause in it.
    "We've noted that you'd like it to be paid for by card, and the billing team will confirm "
    "that with you.",
    "We've noted the product and the team's division also has the story.",
    # A product list's frame around a clause.
    "We've noted that the parcel is black too, in case that matters.",
    # A product list the email does not name.
    "We've noted the Thimble sewing machine too, in case that matters.",
])
def test_a_note_of_what_the_email_never_said_is_invented(sentence: str) -> None:
    assert invented_note(sentence, REFUND)


@pytest.mark.parametrize("sentence", [
    "We've noted the Piccolo espresso machine too, in case that matters.",
    "We've also made a note of the R5 vacuum you mentioned.",
    "Thanks for mentioning the Piccolo espresso machine as well; it's all noted on your case.",
    "We've noted that you mentioned the Piccolo espresso machine, too.",
    "We've noted the Picolo espreso machine too.",  # the model's typo of a named product
    "We're looking into why your Sentinel security camera stopped working.",  # no note at all
    # A note of what any email holds.
    "We've noted your feedback.",
    "We've noted your request, and the team will be in touch.",
])
def test_a_note_of_the_products_the_email_names_is_not(sentence: str) -> None:
    assert not invented_note(sentence, CAMERA)


def test_the_billing_period_answer_is_left_to_the_misread_check() -> None:
    answer = ("We've noted that you'd like it to end at the close of the current billing period, "
              "and the accounts team will confirm that with you.")
    assert not invented_note(answer, "Please cancel my plan when this month's period ends.")


def test_the_generators_replies_note_nothing_invented() -> None:
    emails = generate_emails(300, seed=5, split="eval")
    noted = [e for e in emails if "noted" in draft_reply(e) or "a note of" in draft_reply(e)]
    assert len(noted) > 50  # the test is about notes: enough of them to mean something
    assert not [e.message_id for e in noted
                if invented_notes(draft_reply(e), f"{e.subject}\n{e.body}")]


def test_a_draft_with_an_invented_note_fails_and_the_mend_deletes_only_the_note() -> None:
    email = EmailText("<1@x>", "Still no refund", f"{REFUND}\n\nGareth Pell")
    note = "We've noted that the parcel is still within reach."
    draft = ("Hi Gareth,\n\nI'm sorry the refund for your Brisa 300 air purifier has not reached "
             f"you yet. {note} We're checking the refund with our billing team and will "
             "confirm when it was sent.\n\nBest regards,\nThe replyd support team")
    found = Entities(name=("Gareth Pell",), product=("Brisa 300 air purifier",))
    assert invented_notes(draft, email.body) == [note]
    failed = check_draft(draft, email, "negative", found)
    assert failed == (INVENTED_FACTS,)
    mended = repair(draft, failed, email, "negative", found)
    assert mended is not None and "within reach" not in mended
    assert "billing team" in mended and check_draft(mended, email, "negative", found) == ()


def test_a_persona_rewrite_of_a_note_is_still_a_note_of_the_products() -> None:
    from models.synth.emails import persona_examples

    rows = persona_examples(300, 5, "eval")
    pirate = "We've also made a note of the Fable audiobook player ye mentioned."
    assert not invented_note(pirate, "I already own the Fable audiobook player.")
    assert not [row["persona"] for row in rows if invented_notes(row["rewrite"], row["text"])]
