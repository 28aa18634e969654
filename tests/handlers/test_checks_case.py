"""A support case the email never raised is an invented fact; one it raised, in any words,
is not."""

from __future__ import annotations

import random
import time

import pytest

from handlers.checks import INVENTED_FACTS, check_draft
from handlers.checks_case import invented_case
from handlers.types import EmailText, Entities
from models.synth.emails import draft_reply, generate_emails

NEWSLETTER = ("Media Unspun: what the press is reporting and why. October 8. The president spoke "
              "about the economy; markets fell. To change your subscriber details, use this link.")


def test_a_router_grounds_no_courier() -> None:
    draft = "We've asked the courier for the latest tracking details."
    assert invented_case(draft, "The thermostat can't join my Wi-Fi; the router is dual band.") \
        == ["delivery"]
    assert invented_case(draft, "The driver took a strange route and it never came.") == []


@pytest.mark.parametrize(("draft", "kind"), [
    ("I'm sorry that your parcel has been taken. We're checking with the courier.", "delivery"),
    ("We're checking whether the account has been suspended and will let you know.", "account"),
    ("We'll send you a photo of the payment confirmation.", "payment"),
    ("Thank you for the kind message about the economy!", "praise"),
    ("We'll make sure your thanks reach the press team.", "praise"),
    ("We'll send you the return instructions in a separate email.", "return"),
    ("Please send it back to us with the note inside.", "return"),
    ("Could you send us a photo of the damage or the fault?", "fault"),
    ("That will help us decide between a new one and a repair.", "fault"),
])
def test_a_case_the_email_never_raised_is_invented(draft: str, kind: str) -> None:
    assert invented_case(draft, NEWSLETTER) == [kind]
    body = f"Hi there,\n\n{draft}\n\nBest regards,\nThe replyd support team"
    assert INVENTED_FACTS in check_draft(body, EmailText("<1@x>", "News", NEWSLETTER),
                                         "neutral", Entities())


@pytest.mark.parametrize(("email", "draft"), [
    ("My Piccolo espresso machine never arrived. Where is it?",
     "We're checking the parcel with the courier."),
    ("Your delivvery driiver went out of their way to get it to me on time.",  # typos
     "We'll make sure your thanks reach the courier."),
    ("Just checking on my Glide cordless iron. It was due two weeks ago and I haven't seen it yet.",
     "We're checking whether the parcel has been delivered."),
    ("I was billed twice for the same subscription last week.",
     "We're checking the payment and the invoice."),
    ("I can't log in since yesterday, it says my account is locked.",
     "Your account has been locked, we're looking into it."),
    ("The Aurora kettle is brilliaant, it boils in a minute.",  # a typo of praise
     "Thank you for the kind words about your Aurora kettle!"),
    ("The courier went out of his way to bring it before the storm.",
     "We'll make sure your thanks reach the courier."),
    # A return in the customer's own words: what makes them send it back.
    ("My Kestrel e-bike is going back. It feels flimsy and frankly isn't worth the money.",
     "We'll email you the return steps; please keep the original packaging."),
    ("The box had a blender in it, not the kettle I ordered. Wrong item again.",
     "A member of the team will follow up with how to send it back."),
    ("Part of the speaker was smashed when I unpacked it.",
     "We'll send you the return instructions, or a repair if you prefer."),
    ("I'd like to retrun the lamp, it's not for me.",  # a typo
     "We'll send you the return instructions."),
])
def test_a_case_the_email_raised_in_its_own_words_is_not(email: str, draft: str) -> None:
    assert invented_case(draft, email) == []


@pytest.mark.parametrize(("email", "draft", "kind"), [
    # Another case's answer, fluent and whole: the reply adapter's misreads.
    ("Where is my order? It was due two weeks ago.",
     "We'll send you the return instructions in a separate email.", "return"),
    ("I'd like to switch my plan to annual billing mid-cycle.",
     "We'll send you the return instructions if it can be done.", "return"),
    ("This is not what I ordered: the box had a blender, not the kettle. It's a mix-up.",
     "That will help us decide between a new one and a repair.", "fault"),
])
def test_another_cases_answer_to_a_customer_is_invented(email: str, draft: str, kind: str
                                                        ) -> None:
    assert invented_case(draft, email) == [kind]


def test_an_idiom_is_no_claim() -> None:
    assert invented_case("We'll send you the latest steps in return.", NEWSLETTER) == []
    assert invented_case("That wasn't your fault at all.", NEWSLETTER) == []


def test_the_generators_own_replies_raise_no_case_of_their_own() -> None:
    emails = generate_emails(600, seed=3, split="eval")
    flagged = [e for e in emails if invented_case(draft_reply(e), f"{e.subject}\n{e.body}")]
    assert flagged == []


def test_a_phone_signature_or_a_product_name_grounds_no_delivery() -> None:
    # "Sent from my phone" ends half of all mail; "Sentinel" holds "sent".
    email = "My Sentinel security camera is all working again. Thank you!\n\nSent from my phone"
    assert invented_case("We're checking the status with the courier.", email) == ["delivery"]


def test_policy_words_alone_are_no_case() -> None:
    # A refund offered as policy, and the request for account details every fallback makes.
    draft = ("Could you send us a photo of the fault? We'll go through the replacement and refund "
             "options. Could you tell us your order or account details?")
    assert invented_case(draft, "My kettle stopped heating.") == []


def test_the_near_miss_search_is_bounded_on_a_huge_email() -> None:
    # 20,000 characters of distinct words that all share a first two letters with a ground word:
    # the worst case for the near-miss search, which the checks run on the event loop.
    rng = random.Random(0)
    words = [rng.choice(["pa", "ac", "de", "pu", "ch", "pr", "bi", "co", "ma"])
             + "".join(rng.choice("aeiouxzrtn") for _ in range(rng.randint(3, 7)))
             for _ in range(6000)]
    source = " ".join(words)[:20_000]
    draft = "Your account has been locked, the payment failed and the parcel is lost."
    started = time.perf_counter()
    assert invented_case(draft, source) == ["delivery", "payment", "account"]
    # Generous for a shared machine (a few milliseconds when idle).
    assert time.perf_counter() - started < 0.5
