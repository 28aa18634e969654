"""The content measure: which generator answer a reply draft carries."""

from __future__ import annotations

from models.synth.answers import answer_report, answered_request, reference_request
from models.synth.emails import draft_reply, generate_emails
from models.synth.reply_lists import REPLY_ANSWERS


def test_every_generator_reply_is_matched_to_its_own_request() -> None:
    emails = generate_emails(600, seed=5, split="eval", more_cases=True)
    assert {"missing_part", "refund_status", "warranty", "warranty_claim", "address_change",
            "login_problem", "login_email"} <= {e.request for e in emails}
    for email in emails:
        reply = draft_reply(email)
        assert reference_request(reply) == email.request
        assert answered_request(reply) == email.request


def test_an_answer_in_other_words_still_counts() -> None:
    draft = ("Hi Dana,\n\nThanks so much for the kind words! We're checking whether the beep "
             "can be turned off, and we'll send you the steps.\n\nBest,\nThe support team")
    assert answered_request(draft) == "beep"


def test_a_misread_case_carries_another_requests_answer() -> None:
    # A wrong item answered as a late parcel.
    draft = ("I'm sorry about the mix-up. We've asked the courier for the latest tracking "
             "details and will update you soon.")
    assert answered_request(draft) == "late_delivery"


def test_a_vague_draft_answers_nothing() -> None:
    draft = ("Hi Dana,\n\nThank you for getting in touch about your order. We're happy to help "
             "with anything else you need.\n\nBest regards,\nThe replyd support team")
    assert answered_request(draft) is None
    assert reference_request(draft) is None


def test_report_counts_right_other_and_none_over_rows_with_a_reference() -> None:
    wrong_item = REPLY_ANSWERS["wrong_item"][0]
    late = REPLY_ANSWERS["late_delivery"][0]
    references = [f"Hi,\n\n{wrong_item}\n\nBye", f"Hi,\n\n{wrong_item}\n\nBye",
                  f"Hi,\n\n{late}\n\nBye", "a reply the generator did not write"]
    drafts = [f"Sorry! {wrong_item}", late, None, "anything"]
    report = answer_report(references, drafts)
    assert report == {"n": 3, "right": 0.3333, "other": 0.3333, "none": 0.3333}


def test_report_of_no_rows_is_empty() -> None:
    assert answer_report([], []) == {"n": 0, "right": 0.0, "other": 0.0, "none": 0.0}
