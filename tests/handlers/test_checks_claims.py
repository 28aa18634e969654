"""Claims that the case is dealt with (handlers.checks_claims): "it's all taken care of" when
nobody has looked at it fails the draft as an invented fact and the mend deletes the sentence;
the same words grounded by the email, or inside a condition, pass."""

from __future__ import annotations

import pytest

from handlers.checks import check_draft
from handlers.checks_claims import invented_commitments, invented_resolutions
from handlers.repair import repair
from handlers.types import EmailText, Entities

STAND = EmailText("<s@x>", "Question", "My ErgoDesk stand wobbles. How do I tighten it?\n\nKelly")
KELLY = Entities(name=("Kelly",), product=("ErgoDesk stand",))


@pytest.mark.parametrize("claim", [
    "Your ErgoDesk stand is sorted for you now.",
    "It's all taken care of.",
    "Your order has been confirmed.",
    "We've refunded the charge to your card.",
    "We've sent you a replacement.",
    "The issue has been resolved.",
])
def test_a_claim_that_the_case_is_dealt_with_is_invented_and_mended_away(claim: str) -> None:
    body = ("Hi Kelly,\n\nThanks for getting in touch about your ErgoDesk stand. Could you tell "
            f"us where it wobbles, so we can help? {claim}\n\nBest regards,\n"
            "The replyd support team")
    failed = check_draft(body, STAND, "neutral", KELLY)
    assert "invented_facts" in failed
    assert invented_resolutions(claim, f"{STAND.subject}\n{STAND.body}")
    mended = repair(body, failed, STAND, "neutral", KELLY)
    assert mended is not None and claim not in mended and "where it wobbles" in mended


@pytest.mark.parametrize(("draft", "email"), [
    # A condition: a claim about what may be, not what is.
    ("We're checking whether it has been shipped and will let you know.", "Where is my lamp?"),
    ("We'll let you know once the refund has been confirmed.", "Where is my refund?"),
    ("We'll keep you updated until this is resolved.", "My kettle leaks."),
    ("Sorry about the trouble; let's get this sorted.", "My kettle leaks."),
    # The email says it first, in the same word or another word for it, or in a typo.
    ("We're glad everything is sorted now.", "Thanks so much for sorting out my account!"),
    ("We're glad everything is sorted now.", "My kettle is all working again. Thank you!"),
    ("We're glad everything is sorted now.", "Thanks so mucch for sroting out my account."),
    ("I'm sorry your order was cancelled without notice.", "You cancelled my order!"),
])
def test_a_claim_the_email_grounds_or_a_condition_holds_is_not_invented(draft: str,
                                                                         email: str) -> None:
    assert invented_resolutions(draft, email) == []


def test_resolutions_join_the_other_commitments_in_order() -> None:
    draft = "We'll send a voucher. It's all taken care of. We'll do it by today."
    assert invented_commitments(draft, "My kettle leaks.") == [
        "voucher", "It's all taken care of", "by today"]
