"""Needless words (handlers.checks_needless): a promise to check something in reply to praise
that asked nothing, and a question for the product an email names; found, and mended by
handlers.repair without touching drafts that need them."""

from __future__ import annotations

import pytest

from handlers.checks import check_draft, has_repetition
from handlers.checks_needless import (
    asks_for_nothing,
    drop_known_asks,
    needless_follow_ups,
    needless_questions,
)
from handlers.repair import repair
from handlers.types import EmailText, Entities, Sentiment
from models.synth.emails import generate_emails

PRAISE = EmailText("<p@x>", "Just a quick thanks",
                   "Dear team,\n\nMy name is Lucia Aziz. I just wanted to say how happy I am with "
                   "my Fable audiobook player. I've already recommended it to friends.\n\nCheers,"
                   "\nLucia Aziz")
LUCIA = Entities(name=("Lucia Aziz",), product=("Fable audiobook player",))
SIGNED = "\n\nMany thanks,\nThe replyd support team"
CHECKING = ("We're checking the status of your purchase and will send you a notification as "
            "soon as we find out.")
PRAISE_DRAFT = ("Hi Lucia,\n\nThank you for your kind words about your Fable audiobook player! "
                f"It was lovely to hear from you. {CHECKING}\n\nThanks again for writing to us."
                + SIGNED)


def test_a_check_promised_on_praise_fails_and_the_mend_deletes_it() -> None:
    failed = check_draft(PRAISE_DRAFT, PRAISE, "positive", LUCIA)
    assert failed == ("needless_follow_up",)
    mended = repair(PRAISE_DRAFT, failed, PRAISE, "positive", LUCIA)
    assert mended is not None
    assert "checking" not in mended and "notification" not in mended
    assert "Thank you for your kind words about your Fable audiobook player!" in mended
    assert check_draft(mended, PRAISE, "positive", LUCIA) == ()


@pytest.mark.parametrize("ask", [
    "Is there a travel case that fits it?",
    "Could you send me the manual",
    "Please send a second filter",
    "Sadly the lid cracked on the second day",
    "It's great, but the battery drains overnight",
    "I'd like to order two more",
    "The charger is missing though",
])
def test_praise_that_asks_or_reports_a_problem_may_be_answered_with_a_check(ask: str) -> None:
    email = EmailText("<p@x>", "Thanks", f"I love my Fable audiobook player! {ask}. Lucia")
    assert not asks_for_nothing(f"{email.subject}\n{email.body}", "positive")
    assert needless_follow_ups(PRAISE_DRAFT, f"{email.subject}\n{email.body}", "positive") == []
    assert "needless_follow_up" not in check_draft(PRAISE_DRAFT, email, "positive", LUCIA)


def test_only_positive_mail_and_only_its_new_text_count() -> None:
    source = f"{PRAISE.subject}\n{PRAISE.body}"
    assert asks_for_nothing(source, "positive")
    assert not asks_for_nothing(source, "neutral")  # a model's neutral may hide a request
    # A quoted support reply's question asks nothing of support.
    quoted = (source + "\n\nOn Mon, 2 Jun 2025, Support <s@replyd.example> wrote:\n"
              "> Have you tried restarting it?")
    assert asks_for_nothing(quoted, "positive")


def test_the_trained_praise_replies_are_no_follow_ups() -> None:
    # The lines the generator's praise and thanks replies are made of (models.synth.reply_lists).
    for line in ("We'll pass your message on to the team, they'll be delighted.",
                 "We'll make sure your thanks reach the colleague who helped you.",
                 "Messages like yours make the team's day, so we'll share it with them.",
                 "Enjoy, and let us know if you ever need anything."):
        assert needless_follow_ups(line, f"{PRAISE.subject}\n{PRAISE.body}", "positive") == []


def test_the_generators_positive_requests_are_never_read_as_asking_nothing() -> None:
    emails = [e for e in generate_emails(600, seed=5, split="eval") if e.sentiment == "positive"]
    asks = [e for e in emails if e.issue not in ("praise", "support_thanks")]
    assert asks  # feature questions and the like
    assert not [e.message_id for e in asks
                if asks_for_nothing(f"{e.subject}\n{e.body}", "positive")]
    thanks = [e for e in emails if e.issue in ("praise", "support_thanks")]
    read = sum(asks_for_nothing(f"{e.subject}\n{e.body}", "positive") for e in thanks)
    assert read > len(thanks) / 2


WARRANTY = EmailText("<c@x>", "Cancel my subscription",
                     "Could you tell me how to cancel my CareShield extended warranty? I'm moving "
                     "abroad.\n\nAndrei Aziz")
ANDREI = Entities(name=("Andrei Aziz",), product=("CareShield extended warranty",))


def test_a_question_for_a_named_product_keeps_what_else_it_asks() -> None:
    body = ("Hi Andrei,\n\nThank you for getting in touch about cancelling your CareShield "
            "extended warranty. Could you confirm which product this is about and the account "
            "number? That helps us with the cancellation." + SIGNED)
    failed = check_draft(body, WARRANTY, "neutral", ANDREI)
    assert failed == ("needless_question",)
    mended = repair(body, failed, WARRANTY, "neutral", ANDREI)
    assert mended is not None
    assert "Could you confirm the account number? That helps us with the cancellation." in mended
    assert check_draft(mended, WARRANTY, "neutral", ANDREI) == ()


def test_a_question_only_for_the_product_goes_and_one_without_a_product_stays() -> None:
    body = ("Hi Andrei,\n\nThank you for getting in touch about cancelling your CareShield "
            "extended warranty. Which product is this about? We'll walk you through the "
            "cancellation once we know." + SIGNED)
    mended = repair(body, check_draft(body, WARRANTY, "neutral", ANDREI), WARRANTY, "neutral",
                    ANDREI)
    assert mended is not None and "Which product" not in mended and "walk you through" in mended
    unnamed = Entities(name=("Andrei Aziz",))
    assert needless_questions(body, unnamed) == []
    ask = "Could you tell us which product this is about and the order number?"
    assert drop_known_asks(ask, unnamed) == ask
    assert drop_known_asks(ask, ANDREI) == "Could you tell us the order number?"


@pytest.mark.parametrize(("text", "doubled"), [
    ("I'm sorry that that the parcel went astray.", True),
    ("I'm sorry your parcel has gone missvely missvely.", True),
    ("We're sorry about that. That shouldn't happen.", False),
    ("Hi Dana,\nDana from support here.", False),
])
def test_a_word_twice_in_a_row_is_repetition(text: str, doubled: bool) -> None:
    assert has_repetition(text) is doubled


def test_the_mend_says_a_small_doubled_word_once_and_rejects_a_doubled_long_one() -> None:
    email = EmailText("<w@x>", "Wrong item", "The box I got doesn't contain my Juniper humidifier. "
                      "I'm annoyed. Elif")
    elif_ = Entities(name=("Elif",), product=("Juniper humidifier",))
    slip = ("Hi Elif,\n\nI'm sorry that that the box didn't hold your Juniper humidifier. Could "
            "you send us a photo of what arrived?\n\nBest regards,\nThe replyd support team")
    failed = check_draft(slip, email, "negative", elif_)
    assert failed == ("repetition",)
    mended = repair(slip, failed, email, "negative", elif_)
    assert mended is not None and "I'm sorry that the box didn't hold" in mended
    garbled = slip.replace("that that the box didn't hold", "your box went missvely missvely, not")
    assert repair(garbled, check_draft(garbled, email, "negative", elif_), email, "negative",
                  elif_) is None


@pytest.mark.parametrize(("sentence", "asks"), [
    ("Could you tell us which login account you use and the password for?", True),
    ("Please reply with your PIN and the card number.", True),
    ("Could you send us the security code on the back of the card?", True),
    ("We'll send a fresh password reset link to the email address on your account.", False),
    ("Could you confirm the email address you sign in with?", False),
    ("We can send you a new password by email.", False),
])
def test_a_draft_never_asks_for_a_secret(sentence: str, asks: bool) -> None:
    email = EmailText("<s@x>", "Can't log in", "I can't log in, the password reset never comes. "
                      "Dana")
    dana = Entities(name=("Dana",))
    body = (f"Hi Dana,\n\nI'm sorry you've been locked out of your account. {sentence} We'll help "
            f"you get back in.\n\nBest regards,\nThe replyd support team")
    _asks_needlessly(body, email, "negative", dana, sentence, "get back in", asks=asks)


def _asks_needlessly(body: str, email: EmailText, mood: Sentiment, found: Entities, ask: str,
                     rest: str, *, asks: bool) -> None:
    """``body`` fails needless_question exactly when ``asks``; then the mend deletes ``ask``
    and keeps ``rest``."""
    failed = check_draft(body, email, mood, found)
    assert ("needless_question" in failed) is asks
    if asks:
        mended = repair(body, failed, email, mood, found)
        assert mended is not None and ask not in mended and rest in mended


@pytest.mark.parametrize(("email_text", "asks"), [
    ("I'd like to return the Ember toaster from order 10557, it doesn't fit.", True),
    ("I'd like to return the Ember toaster (order\n8731), it doesn't fit.", True),
    ("The Ember toaster of #10482 doesn't fit, I'd like to return it.", True),
    ("I'd like to return the Ember toaster, it doesn't fit.", False),  # no number given
    ("I'd like to return the Ember toaster I ordered in 2024, it doesn't fit.", False),
])
def test_a_draft_asks_for_the_order_number_only_when_the_email_gives_none(
        email_text: str, asks: bool) -> None:
    email = EmailText("<o@x>", "Return", f"{email_text}\n\nOliver Strand")
    oliver = Entities(name=("Oliver Strand",), product=("Ember toaster",))
    ask = "Could you reply with your order number, so we can find the right order?"
    body = (f"Hi Oliver,\n\nThanks for letting us know you'd like to return your Ember toaster. "
            f"{ask} We'll send you the return instructions in a separate email.{SIGNED}")
    _asks_needlessly(body, email, "neutral", oliver, ask, "return instructions", asks=asks)
