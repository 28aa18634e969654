"""The request line of the reply prompt: what an email asks for, read from its words."""

from __future__ import annotations

from collections import Counter

import pytest

from handlers import reply, topic
from handlers.budget import PromptBudget
from handlers.prepare import prepare
from handlers.types import EmailText, Entities
from models.engines.base import estimate_tokens
from models.synth.email_lists import ISSUES
from models.synth.emails import generate_emails


def test_every_case_of_the_generator_has_a_label_and_patterns() -> None:
    assert set(topic.LABELS) == set(ISSUES)
    assert topic.UNCLEAR not in topic.LABELS.values()


def test_the_generators_mail_is_read_as_the_case_it_raises() -> None:
    # The reply adapter is trained with this line on the generator's mail: a wrong line there
    # teaches the model to distrust it. Measured on 6,000 emails: 0.906 right, 0.0135 wrong.
    outcome: Counter[str] = Counter()
    for email in generate_emails(600, seed=5, split="eval", more_cases=True):
        case = topic.classify("", email.body)
        outcome["right" if case == email.issue else "unclear" if case is None else "wrong"] += 1
    assert outcome["right"] >= 0.85 * 600
    assert outcome["wrong"] <= 0.03 * 600


@pytest.mark.parametrize(("subject", "body", "case"), [
    ("Refund?", "I posted the blender back on the 3rd and there's still no refund on my card.",
     "refund_status"),
    ("", "My card statement shows two charges for the same order, a minute apart.", "billing"),
    ("Account", "I can't log in and the password reset link never arrives.", "login_problem"),
    ("", "We moved last week. Could you update the delivery address on order 2231?",
     "address_change"),
    ("", "The lamp came without the power adapter, so it's useless.", "missing_part"),
    ("Order 5521", "It was supposed to arrive on Friday and the tracking hasn't moved since.",
     "late_delivery"),
    ("", "I got the 10-inch pan instead of the 12-inch one I ordered.", "wrong_item"),
    ("", "The screen stopped working after a month. Is that covered by the warranty?",
     "warranty"),
    ("", "The grinder is brilliant so far. Can I turn off the beep when it finishes?",
     "feature_question"),
    ("Thanks", "Thank you for sorting out my replacement so quickly.", "support_thanks"),
    ("", "Please cancel my subscription at the end of the month.", "cancellation"),
    # nothing the adapter knows: the model reads the email alone
    ("Discount", "The code WELCOME10 gives an error at checkout.", None),
    ("Hello", "Can you call me tomorrow?", None),
    # Wording of real mail (the second customer set, read to write these; own words here).
    ("", "The coffee jug leaks all over the worktop every time I use it.", "broken_item"),
    ("Mixer", "It turned up in pieces, the bowl has a crack down one side.", "broken_item"),
    ("", "The courier says the parcel could not be delivered and is going back to the sender, "
     "but nobody knocked.", "late_delivery"),
    ("", "I sent the toaster back a month ago and my money still hasn't come back.",
     "refund_status"),
    ("", "The speaker just died. I bought it in May, so surely it's under warranty?",
     "warranty"),
    ("", "The app finds the plug but says connection failed after I type the wifi password.",
     "setup_help"),
    ("", "Before we place an order: is the hub compatible with our older radiators? Each "
     "office has its own login.", "feature_question"),
    ("", "Only half my order came: the lamp is there, the bulbs are not.", "missing_part"),
    # Wording of the fourth and fifth customer sets (read to write these; own words here).
    ("Parcel", "The link says 'with courier' and it hasnt changed since Tuesday.",
     "late_delivery"),
    ("Where is it?", "Ordered a fan a fortnight ago.", "late_delivery"),
    ("", "Tracking says delivered to a green door. Mine is blue and nothing came.",
     "late_delivery"),
    ("", "What turned up is the 40-inch set, not the one I actually paid for.", "wrong_item"),
    ("", "Opened the parcel and inside is a waffle maker. Can I swap it?", "wrong_item"),
    ("Grill", "It gives off a burning plastic smell and tripped the electrics twice.",
     "broken_item"),
    ("", "£9.99 went out of my current account to you on Friday. What was it for?", "billing"),
    ("Mixer", "How do I go about sending it back? It's too loud for the flat.", "return_request"),
    ("", "Please stop RD-1234567 before it ships, I ordered it twice by mistake.",
     "cancellation"),
    ("", "Thinking of buying the R5 robot: can it climb onto a thick rug?", "feature_question"),
    ("", "We can't get it to show up in the app; it just keeps searching.", "setup_help"),
    ("Sorted!", "Thanks Omar, the steps worked. Appreciate you walking me through it.",
     "support_thanks"),
    ("", "There is an empty slot in the foam where the milk wand should be.", "missing_part"),
    ("REFUND STILL NOT RECEIVED", "Cancelled on the 2nd; nothing has come back to my card.",
     "refund_status"),
    ("", "It's ten months old and it stopped charging. Surely it's still covered?", "warranty"),
    ("", "Could the kettle come to my office instead? I'm away next week.", "address_change"),
    # ... and what such words do not mean
    ("", "I ordered noise cancelling headphones. Do they fold flat?", None),
    ("Thermostat", "I moved the router closer and the app still fails to connect to the wifi.",
     "setup_help"),
    ("Points", "My points balance hasn't moved since November. Could someone check?", None),
    # a request no case answers wins over the case words it carries
    ("Voucher", "The voucher code says it is not valid, so I ordered without the discount.",
     None),
    ("", "Could you send a quote for 30 kettles? We would pay by invoice.", None),
    ("", "Please delete my account and all personal data; I still get invoices by email.",
     None),
    ("", "Do you offer gift wrapping, with a message and without the price on the note?", None),
])
def test_what_an_email_asks_for(subject: str, body: str, case: str | None) -> None:
    assert topic.classify(subject, body) == case


def test_the_quoted_thread_is_not_read() -> None:
    body = ("Any news on this?\n\nOn Mon, 1 Dec 2026 at 09:00, Support <s@x.example> wrote:\n"
            "> Please cancel my subscription, I was charged twice.\n")
    assert topic.scores("", body)["cancellation"] == 0


def test_the_reply_prompt_states_the_request_or_unclear() -> None:
    known = EmailText("<1@x>", "Refund", "I returned the kettle and still no refund. Where is "
                      "my money?")
    unknown = EmailText("<2@x>", "Hello", "Can you call me tomorrow?")
    assert "\nRequest: refund not received\n<email>" in reply.messages(
        known, "negative", Entities())[1].content
    assert "\nRequest: unclear\n<email>" in reply.messages(
        unknown, "neutral", Entities())[1].content


def test_the_pipeline_reads_the_request_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    email = EmailText("<3@x>", "Where is my order?", "It was due on Monday.\n\nThanks,\nDana")
    prepared = prepare(email, PromptBudget(estimate_tokens, 1024))
    assert prepared.text.request == "late or missing delivery"

    def unread(subject: str, body: str) -> str:
        raise AssertionError("read again when the prompt was built")

    monkeypatch.setattr(topic, "label", unread)
    prompt = reply.messages(prepared.text, "neutral", Entities())[1].content
    assert "Request: late or missing delivery" in prompt
