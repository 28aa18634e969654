"""Another request's answer is a misread; the email's own request, in any words, is not."""

from __future__ import annotations

import pytest

from handlers.checks import INVENTED_FACTS, check_draft
from handlers.checks_answer import answers_nothing, leaves_unanswered, misread, misread_answers
from handlers.repair import repair
from handlers.types import EmailText, Entities
from models.synth.emails import draft_reply, generate_emails

COURIER = ("We've asked the courier for the latest tracking details and will update you as soon "
           "as we hear back.")


@pytest.mark.parametrize(("email", "sentence"), [
    ("My thermostat will not join the Wi-Fi. The router is dual band.", COURIER),
    ("Is a worn battery covered by the warranty? It lasts two days now.", COURIER),
    ("The power adapter for my speaker is missing from the box.", COURIER),
    ("Could you explain a charge on my last invoice? I don't recognise it.",
     "Could you send us a photo of what arrived and of the shipping label?"),
    ("I just wanted to say how happy I am with my new kettle.",
     "It's good to hear everything is working again."),
    ("Can I get copies of the receipts for my plan? I need them for my taxes.",
     "We've passed your request to the accounts team, who will confirm the cancellation with "
     "you."),
])
def test_an_answer_to_a_request_the_email_never_made_is_a_misread(email: str,
                                                                   sentence: str) -> None:
    assert misread(sentence, email)
    draft = f"Hi Dana,\n\nThanks for getting in touch. {sentence}\n\nBest regards,\nThe replyd " \
            f"support team"
    assert misread_answers(draft, email) == [sentence]
    assert INVENTED_FACTS in check_draft(draft, EmailText("<1@x>", "Hello", email), "neutral",
                                         Entities(name=("Dana Ross",)))


@pytest.mark.parametrize(("email", "sentence"), [
    ("Where is my parcel? It was due on Monday.", COURIER),
    ("Still waiting for my order, nothing has come.", COURIER),
    ("The blender has been brilliant. Can I turn off the bepe when it finishes?",  # a typo
     "We're checking whether the finishing beep can be turned off, and we'll send you the steps "
     "if it can."),
    # The sentence's own words ("car socket") tie it to the email, though its closest answer
    # is the older-phones one.
    ("Can the smartwatch run off a car socket when we go camping?",
     "We're checking which car socket the device supports and will let you know."),
    # Answers any email can take have no ground.
    ("Thanks, the lamp is lovely.", "We'll pass your message on to the team, they'll be "
                                    "delighted."),
    # Not an answer the generator writes: nothing to judge.
    ("My thermostat will not join the Wi-Fi.", "Please try the thermostat on the other band."),
])
def test_an_answer_to_the_emails_own_request_is_not(email: str, sentence: str) -> None:
    assert not misread(sentence, email)


def test_the_mend_deletes_the_misread_answer_and_keeps_the_rest() -> None:
    email = EmailText("<1@x>", "Thermostat", "My Pinewick thermostat will not join the Wi-Fi. "
                      "The router is dual band.\n\nDana Ross")
    draft = ("Hi Dana,\n\nThanks for getting in touch about your Pinewick thermostat. "
             f"{COURIER}\n\nLet us know if you have any other questions.\n\nBest regards,\n"
             "The replyd support team")
    found = Entities(name=("Dana Ross",), product=("Pinewick thermostat",))
    failed = check_draft(draft, email, "neutral", found)
    assert failed == (INVENTED_FACTS,)
    mended = repair(draft, failed, email, "neutral", found)
    assert mended is not None
    assert "courier" not in mended and "Pinewick thermostat" in mended
    assert check_draft(mended, email, "neutral", found) == ()


def test_the_mend_judges_each_sentence_against_the_email_not_the_sentence_before() -> None:
    # "speaker", the misread sentence's own word, is in the sentence before it but not in the
    # email: the mend must still delete it.
    email = EmailText("<2@x>", "Charged twice", "I was charged twice for my plan this month.\n\n"
                      "Dana Ross")
    draft = ("Hi Dana,\n\nThanks for getting in touch about the speaker. Could you reply with "
             "what you see on the speaker or the status light when it fails? We'll look into "
             "the charges.\n\nBest regards,\nThe replyd support team")
    found = Entities(name=("Dana Ross",))
    failed = check_draft(draft, email, "negative", found)
    assert INVENTED_FACTS in failed
    mended = repair(draft, failed, email, "negative", found)
    assert mended is not None and "status light" not in mended


REFUND_LATE = EmailText("<r@x>", "Still no refund", "I sent the air purifier back three weeks "
                        "ago and the refund has still not reached my card. Gareth")
HOLDING = ("Hi Gareth,\n\nThank you for getting in touch about sending us the return.\n\nWe're "
           "happy to help with anything else you need.\n\nBest regards,\nThe replyd support team")


def test_a_draft_of_only_acknowledgement_and_closing_answers_nothing() -> None:
    assert answers_nothing(HOLDING, REFUND_LATE, "negative")
    # Empathy and a note of other products named say nothing either.
    assert answers_nothing(HOLDING.replace("return.", "return. I understand how frustrating this "
                                           "must be. We've noted the air purifier too."),
                           REFUND_LATE, "neutral")


@pytest.mark.parametrize("added", [
    "We've checked your return: the refund went out on Monday and should reach your card "
    "within five working days.",
    "Could you reply with your order number, so we can find the right order?",
])
def test_a_draft_with_an_answer_or_a_question_answers_something(added: str) -> None:
    draft = HOLDING.replace("return.", f"return. {added}")
    assert not answers_nothing(draft, REFUND_LATE, "negative")


def test_an_acknowledgement_carrying_an_answer_in_the_same_sentence_is_an_answer() -> None:
    draft = HOLDING.replace("the return.", "the return; we've issued the refund today and "
                            "emailed the confirmation with the amount.")
    assert not answers_nothing(draft, REFUND_LATE, "negative")


def test_a_thank_you_needs_nothing_beyond_thanks() -> None:
    praise = EmailText("<p@x>", "Love it", "Just wanted to say the kettle is lovely. Thanks!")
    draft = ("Hi there,\n\nThank you for the kind message about your kettle! It was lovely to "
             "hear from you.\n\nBest wishes,\nThe replyd support team")
    assert not answers_nothing(draft, praise, "positive")
    assert answers_nothing(draft, praise, "neutral")


def test_no_reply_the_generator_writes_answers_nothing() -> None:
    """Every generator reply carries an answer: none may be taken for a holding reply."""
    emails = generate_emails(600, seed=13, split="eval", more_cases=True)
    flagged = [e.message_id for e in emails if answers_nothing(
        draft_reply(e), EmailText(e.message_id, e.subject, e.body), e.sentiment)]
    assert flagged == []


def test_a_deleted_thanks_answer_leaves_a_thank_you_answered() -> None:
    praise = EmailText("<p@x>", "Love it", "I just wanted to say how happy I am with my new "
                       "kettle.")
    draft = ("Hi there,\n\nThank you for the kind message about your kettle! It's good to hear "
             "everything is working again.\n\nBest wishes,\nThe replyd support team")
    assert misread_answers(draft, f"{praise.subject}\n{praise.body}")
    assert not leaves_unanswered(draft, praise, "positive")
    courier = draft.replace("It's good to hear everything is working again.", COURIER)
    assert leaves_unanswered(courier, praise, "positive")
    assert leaves_unanswered(draft, praise, "neutral")
