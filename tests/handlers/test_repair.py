"""Mending failed drafts (handlers.repair): the edits a support agent would make, never a fact
the draft or the analysis did not have, and None where a new draft is needed."""

from __future__ import annotations

import re

import pytest

from handlers.checks import check_draft
from handlers.repair import APOLOGY, repair
from handlers.types import EmailText, Entities, Sentiment

IRON = EmailText("<i@x>", "Camping", "Can the Glide cordless iron run off a car socket when we "
                 "go camping? Kind regards, Elif Halvorsen")
IRON_FOUND = Entities(name=("Elif Halvorsen",), product=("Glide cordless iron",))
SIGNED = "\n\nAll the best,\nThe replyd support team"


def _mend(body: str, email: EmailText = IRON, found: Entities = IRON_FOUND,
          sentiment: Sentiment = "neutral") -> str | None:
    failed = check_draft(body, email, sentiment, found)
    assert failed, "the case must fail a check to be worth mending"
    mended = repair(body, failed, email, sentiment, found)
    if mended is not None:
        assert check_draft(mended, email, sentiment, found) == ()
    return mended


def test_a_sentence_with_an_invented_case_is_deleted_and_the_rest_kept_as_written() -> None:
    body = ("Hi Elif,\n\nThanks for asking about your Glide cordless iron. We've noted that the "
            "courier can go off a car socket, and we'll send you the steps. We're happy to help "
            "with anything else you need." + SIGNED)
    assert _mend(body) == ("Hi Elif,\n\nThanks for asking about your Glide cordless iron. We're "
                           "happy to help with anything else you need." + SIGNED)


def test_another_cases_answer_is_deleted_whole() -> None:
    # The fluent misread: return instructions to a late parcel.
    email = EmailText("<l@x>", "Where is my order?", "Where is my Mosaic photo printer? It was "
                      "due two weeks ago. Elif Halvorsen")
    found = Entities(name=("Elif Halvorsen",), product=("Mosaic photo printer",))
    body = ("Hi Elif,\n\nThanks for getting in touch about where your Mosaic photo printer has "
            "got to. We'll send you the return instructions in a separate email. We've asked "
            "the courier for the latest tracking details." + SIGNED)
    assert _mend(body, email, found) == (
        "Hi Elif,\n\nThanks for getting in touch about where your Mosaic photo printer has got "
        "to. We've asked the courier for the latest tracking details." + SIGNED)


def test_invented_links_numbers_and_promises_go_with_their_sentences() -> None:
    body = ("Hi Elif,\n\nThanks for asking about your Glide cordless iron. The manual is at "
            "http://evil.example/verify and your ticket is 48213. We'll send you a voucher for "
            "the trouble. It can run off a car socket with an adapter, and we're happy to help "
            "with anything else." + SIGNED)
    mended = _mend(body)
    assert mended is not None
    for gone in ("evil.example", "48213", "voucher"):
        assert gone not in mended
    assert "car socket with an adapter" in mended


def test_a_name_or_product_one_slip_off_is_spelt_as_the_analysis_found_it() -> None:
    email = EmailText("<j@x>", "", "My Juniper humidifier stopped working. Noor Ramirez")
    found = Entities(name=("Noor Ramirez",), product=("Juniper humidifier",))
    body = ("Hi Noor,\n\nI'm sorry that your Juniberu humidifier stopped working. Could you tell "
            "us what the display shows, so we can help?" + SIGNED)
    mended = _mend(body, email, found, "negative")
    assert mended is not None and "Juniper humidifier stopped working" in mended
    assert "Juniberu" not in mended


def test_thanks_for_kind_words_nobody_wrote_become_thanks_for_the_message() -> None:
    email = EmailText("<q@x>", "", "Can the Glide cordless iron run off a car socket? Elif")
    body = ("Hi Elif,\n\nThank you for the kind words about your Glide cordless iron! It can run "
            "off a car socket with the right adapter, and we're happy to help further." + SIGNED)
    mended = _mend(body, email)
    assert mended is not None and "Thank you for your message about your Glide" in mended
    assert "kind" not in mended.lower()


def test_the_greeting_gets_the_customers_name_and_a_wrong_one_is_replaced() -> None:
    rest = ("\n\nThanks for asking about your Glide cordless iron. It can run off a car socket "
            "with the right adapter." + SIGNED)
    for opening in ("Hello there,", "Hi Elvira,"):
        mended = _mend(opening + rest)
        assert mended is not None and mended.startswith("Hi Elif,\n\nThanks for asking")


def test_a_missing_signature_apology_and_cut_last_sentence_are_mended() -> None:
    email = EmailText("<k@x>", "", "My Glide cordless iron leaks everywhere, I'm furious.")
    found = Entities(product=("Glide cordless iron",))
    body = ("Hello,\n\nThank you for telling us about your Glide cordless iron. Could you send "
            "us a photo of where the water comes out? We'll look at it with the product team and")
    mended = _mend(body, email, found, "negative")
    assert mended is not None
    assert mended.startswith(f"Hello,\n\n{APOLOGY} Thank you for telling us")
    assert "product team and" not in mended
    assert mended.endswith("Best regards,\nThe replyd support team")


def test_a_signer_name_under_the_sign_off_becomes_the_team_signature() -> None:
    body = ("Hi Elif,\n\nThanks for asking about your Glide cordless iron. It can run off a car "
            "socket with the right adapter.\n\nKind regards,\nSarah")
    assert _mend(body) == ("Hi Elif,\n\nThanks for asking about your Glide cordless iron. It can "
                           "run off a car socket with the right adapter.\n\nKind regards,\n"
                           "The replyd support team")


def test_a_repeated_sentence_is_deleted_but_a_loop_is_not_cut_down() -> None:
    body = ("Hi Elif,\n\nThanks for asking about your Glide cordless iron. It runs off a car "
            "socket with an adapter, and we'll let you know if it's still working. We're checking "
            "the manual too, and we'll let you know if it's still working." + SIGNED)
    mended = _mend(body)
    assert mended is not None and "checking the manual" not in mended
    loop = "Hi Elif,\n\n" + "I'm sorry about your Glide cordless iron. " * 6 + SIGNED
    assert _mend(loop) is None


@pytest.mark.parametrize("body", [
    "Hi Elif,\n\nI'm writing to complain about my Glide cordless iron, it won't run off my car "
    "socket and I want a refund." + SIGNED,
    "Hi Elif,\n\nCustomer name: Elif Halvorsen\nReply: thanks for the Glide cordless iron "
    "question." + SIGNED,
    "Hi Elif,\n\nWe'll send you the courier's tracking link for your parcel today." + SIGNED,
])
def test_whole_draft_failures_and_drafts_with_nothing_left_are_not_mended(body: str) -> None:
    assert _mend(body) is None


def test_mending_adds_only_fixed_text_and_the_analysis_words() -> None:
    drafts = [
        "Hello there,\n\nThank you for the kind words about your Glide cordles iron! We've asked "
        "the courier about it. It can run off a car socket with an adapter.\n\nCheers,\nBob",
        "Hi Elvis,\n\nYour Glide cordless iron can run off a car socket on 12 May with an "
        "adapter from https://x.example. Thanks for asking, we are happy to help anytime.",
    ]
    fixed = set(re.findall(r"\w+", f"{APOLOGY} Hi Hello Dear your message Best regards The "
                                   "replyd support team"))
    for body in drafts:
        mended = _mend(body)
        assert mended is not None
        allowed = set(re.findall(r"\w+", body)) | fixed | {"Elif", "Glide", "cordless", "iron"}
        assert set(re.findall(r"\w+", mended)) <= allowed


def test_a_sentence_wrapped_over_lines_is_one_sentence_and_stays_one_paragraph() -> None:
    body = ("Hi Elif,\n\nThanks for asking about your Glide cordless iron. It can run off a\ncar "
            "socket with the right adapter. We've asked the courier\nabout your parcel too.\n\n"
            "We're happy to help with anything else." + SIGNED)
    assert _mend(body) == ("Hi Elif,\n\nThanks for asking about your Glide cordless iron. It can "
                           "run off a car socket with the right adapter.\n\nWe're happy to help "
                           "with anything else." + SIGNED)
