"""Another request's answer is a misread; the email's own request, in any words, is not."""

from __future__ import annotations

import pytest

from handlers.checks import INVENTED_FACTS, check_draft
from handlers.checks_answer import misread, misread_answers
from handlers.repair import repair
from handlers.types import EmailText, Entities

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
