"""Bulk mail told by its own footer, and the customer mail about unsubscribing that is not."""

from __future__ import annotations

import pytest

from handlers.bulk import MAX_BULK_SCAN_CHARS, looks_like_bulk

ISSUE = "This week: three new kettles, our winter sale and a recipe for mulled cider.\n\n"


@pytest.mark.parametrize("footer", [
    "You are receiving this email because you signed up at shop.example.",
    "You're subscribed to the Kettle News list as dana@example.com.",
    "The e-mail address for your subscription is dana@example.com",
    "Your subscribed e-mail address is: [dana@example.com]",
    "If you no longer wish to receive these emails, let us know.",
    "If you would like to be removed from this list, reply REMOVE.",
    "To unsubscribe, visit http://news.shop.example/u?id=42",
    "To be removed from this list, use this link:\nhttp://lists.example/remove",
    "To unsubscribe from these mailings, please click here:\nhttps://x.example/u",
    "Unsubscribe here: https://news.shop.example/u",
    "Manage your email preferences at https://shop.example/prefs",
    "View this email in your browser",
    "This email was sent to dana@example.com by Kettle News.",
    "Click here to unsubscribe.",
    "You received this message because you are subscribed to the Kettle Fans group.",
    "To stop these, please click here to unsubscribe.",
    "This is not spam. You are receiving this because you asked for more information.",
    "NOTE: You are receiving this\ne-mail because you requested information.",
])
def test_a_newsletter_footer_in_the_senders_own_text_is_bulk(footer: str) -> None:
    assert looks_like_bulk("Kettle News, December", ISSUE + footer)


@pytest.mark.parametrize("body", [
    "I tried to unsubscribe using the link https://news.shop.example/u but I still get mail.",
    "How do I unsubscribe from your newsletter? I get three a day.",
    "Please remove me from your mailing list. My address is dana@example.com.",
    "I clicked the link to unsubscribe (https://shop.example/u) and got an error 500.",
    "I no longer wish to receive your emails, and my order 1234 never arrived.",
    "Your unsubscribe page at https://shop.example/u is broken, can you help?",
    "I want to manage my preferences but the page https://shop.example/prefs is blank.",
    "My kettle leaks from the lid. I am subscribed to your newsletter, if that matters.",
    "You sent this kettle to my old address because the form kept it. I moved in May.",
    "You are getting this wrong because the label says 240 V, not 120 V.",
    "You received this parcel back on 3 May since I returned it. Where is my refund?",
    "How do I manage my subscriptions? Your subscription management page shows nothing.",
    "When I click on this link to unsubscribe, I get an error page.",
    "This email was sent to me by mistake, I think. I never ordered a toaster.",
    "",
])
def test_a_customer_writing_about_unsubscribing_is_no_newsletter(body: str) -> None:
    assert not looks_like_bulk("Help", body)


def test_a_reply_or_forward_is_never_judged_by_the_newsletter_it_carries() -> None:
    newsletter = ISSUE + "To unsubscribe, visit http://news.shop.example/u?id=42"
    quoted = "\n".join(f"> {line}" for line in newsletter.splitlines())
    # The customer's own words above the quoted newsletter: answered.
    assert not looks_like_bulk("Question about the sale",
                               f"Does the sale include the Aurora kettle?\n\n{quoted}")
    # A bare forward (nothing new written): answered, as the forward it is.
    forwarded = f"---------- Forwarded message ---------\nFrom: news@shop.example\n\n{newsletter}"
    assert not looks_like_bulk("Kettle News", forwarded)
    # The subject says it is a reply or a forward.
    for subject in ("Re: Kettle News", "Fwd: Kettle News", "AW: Kettle News", "FW: x"):
        assert not looks_like_bulk(subject, newsletter)


def test_only_a_bounded_window_is_read() -> None:
    footer = "To unsubscribe, visit http://news.shop.example/u"
    assert looks_like_bulk("News", "x\n" * 100 + footer)
    assert not looks_like_bulk("News", "word " * (MAX_BULK_SCAN_CHARS // 5) + footer)
    # Hostile text: a huge body of near misses is answered, not searched without bound.
    assert not looks_like_bulk("News", "to unsubscribe " * 200_000)
    assert not looks_like_bulk("News", "you are receiving this " * 100_000)
