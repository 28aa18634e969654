"""Another request's answer, judged against the request the whole email makes."""

from __future__ import annotations

from handlers import topic
from handlers.checks_request import CASE_OF_REQUEST, answers_another, unanswered
from handlers.types import EmailText
from models.synth import reply_lists as R
from models.synth.emails import draft_reply, generate_emails

COURIER = "We've asked the courier for the latest tracking details and will update you soon."


def test_every_answer_belongs_to_a_case() -> None:
    assert set(R.REPLY_ANSWERS) <= set(CASE_OF_REQUEST)
    assert set(CASE_OF_REQUEST.values()) == set(topic.LABELS)
    assert CASE_OF_REQUEST["double_charge"] == "billing"
    assert CASE_OF_REQUEST["beep"] == "feature_question"


def test_another_cases_answer_is_flagged_and_the_right_one_is_not() -> None:
    assert answers_another(f"Hi Ana,\n\n{COURIER}\n\nBest regards,\nThe team", "refund_status")
    assert not answers_another(f"Hi Ana,\n\n{COURIER}\n\nBest regards,\nThe team",
                               "late_delivery")
    # a sentence that names the email's case in its own words answers it
    named = ("We're confirming with the product team whether the warranty covers the battery, "
             "and we'll get back to you.")
    assert not answers_another(named, "warranty")
    # thanks answer either kind of thank-you
    thanks = "We'll make sure your thanks reach the colleague who helped you."
    assert not answers_another(thanks, "praise")
    # no answer sentence, or no one request in the email: nothing to judge
    assert not answers_another("Thanks for getting in touch. Best regards.", "refund_status")
    assert not answers_another(COURIER, None)


def test_the_generators_own_replies_are_almost_never_flagged() -> None:
    # Measured on 12,000 (four seeds, with and without the five more cases): 15 flagged, each
    # an email the keywords read as another case (a question about a beep read as praise).
    emails = generate_emails(600, seed=6, split="eval", more_cases=True)
    flagged = sum(answers_another(draft_reply(e), topic.classify(e.subject, e.body))
                  for e in emails)
    assert flagged <= 3


def test_no_answer_comes_before_off_request() -> None:
    email = EmailText("<1@x>", "Refund", "I returned it and still no refund.",
                      request=topic.LABELS["refund_status"])
    holding = "Hi Ana,\n\nWe'll keep you updated until this is resolved.\n\nBest regards,\nThe team"
    assert unanswered(holding, email, email, "negative") == ("no_answer",)
    courier = f"Hi Ana,\n\n{COURIER}\n\nBest regards,\nThe team"
    assert unanswered(courier, email, email, "negative") == ("off_request",)
    unread = EmailText("<2@x>", "Refund", "I returned it and still no refund.")
    assert unanswered(courier, unread, unread, "negative") == ()  # request not read: unclear
