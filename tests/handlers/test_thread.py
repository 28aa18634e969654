"""Tests for handlers.thread: the new text comes apart from quoted history and signatures in the
shapes real clients write (Gmail, Outlook, Apple Mail, mobile, lists, legal footers), nothing is
lost, and a bare forward still leaves something to answer."""

from __future__ import annotations

import time

import pytest

from handlers.thread import FALLBACK_CHARS, ThreadParts, split_thread


def _words(text: str) -> list[str]:
    return " ".join(line.lstrip("> ") for line in text.splitlines()).split()


def _nothing_lost(body: str, parts: ThreadParts) -> bool:
    """Each word of the body is in exactly one of new_text, quoted, signature (">" aside)."""
    have = _words(parts.new_text) + _words(parts.quoted) + _words(parts.signature)
    return sorted(_words(body)) == sorted(have)


def test_plain_email_without_thread() -> None:
    body = "\n  Hi,\n\nmy order #1234 has not arrived yet.\nCan you check?\n\nThanks,\nDana\n\n"
    parts = split_thread(body)
    assert parts == ThreadParts(body.strip(), "", "")


def test_gmail_reply() -> None:
    body = ("Thanks, that worked!\n\n"
            "On Mon, Jan 5, 2026 at 10:00 AM Support Team <support@shop.example> wrote:\n\n"
            "> Hi Dana,\n>\n> please restart the router.\n>\n> Best,\n> Support\n")
    parts = split_thread(body)
    assert parts.new_text == "Thanks, that worked!"
    assert parts.quoted.startswith("On Mon, Jan 5, 2026 at 10:00 AM Support Team")
    assert "> please restart the router." in parts.quoted
    assert parts.signature == ""
    assert _nothing_lost(body, parts)


def test_gmail_attribution_wrapped_over_two_lines() -> None:
    body = ("Still broken.\n\nOn Mon, Jan 5, 2026 at 10:00 AM Support Team <\n"
            "support@shop.example> wrote:\n\n> Did you restart it?\n")
    parts = split_thread(body)
    assert parts.new_text == "Still broken."
    assert parts.quoted.startswith("On Mon, Jan 5, 2026")
    assert parts.quoted.endswith("> Did you restart it?")


def test_outlook_reply_with_header_block() -> None:
    body = ("Hello,\n\nI still have not received a refund.\n\nRegards\nDana Ross\n\n"
            "From: Support <support@shop.example>\nSent: Monday, January 5, 2026 10:00 AM\n"
            "To: Dana Ross <dana@example.com>\nSubject: RE: Refund\n\n"
            "Dear Dana,\nyour refund is on its way.\n")
    parts = split_thread(body)
    assert parts.new_text == "Hello,\n\nI still have not received a refund.\n\nRegards\nDana Ross"
    assert parts.quoted.startswith("From: Support")
    assert parts.quoted.endswith("your refund is on its way.")
    assert _nothing_lost(body, parts)


def test_outlook_original_message_and_web_underscores() -> None:
    body = "Any news?\n\n-----Original Message-----\nFrom: Support\nSent: today\nold text"
    parts = split_thread(body)
    assert parts.new_text == "Any news?"
    assert parts.quoted.startswith("-----Original Message-----")
    body = ("Any news?\n\n________________________________\nFrom: Support <s@shop.example>\n"
            "Sent: Monday\nold text")
    parts = split_thread(body)
    assert parts.new_text == "Any news?"
    assert parts.quoted.startswith("________________________________\nFrom: Support")


def test_interleaved_quoting_keeps_the_answers() -> None:
    body = ("On 05/01/2026 10:00, Support wrote:\n> Which model do you have?\nThe X200.\n\n"
            "> And since when?\nSince Monday.\n\n> Anything else?\nNo, thanks.\n")
    parts = split_thread(body)
    assert parts.new_text == "The X200.\n\nSince Monday.\n\nNo, thanks."
    assert _nothing_lost(body, parts)
    assert parts.quoted.splitlines() == [
        "On 05/01/2026 10:00, Support wrote:", "> Which model do you have?",
        "> And since when?", "> Anything else?"]


def test_bottom_posting() -> None:
    body = "> Is the parcel there yet?\n> Support\n\nNo, it is not.\n"
    parts = split_thread(body)
    assert parts.new_text == "No, it is not."
    assert parts.quoted == "> Is the parcel there yet?\n> Support"


@pytest.mark.parametrize("attribution", [
    "Am 05.01.2026 um 10:00 schrieb Support Team <support@shop.example>:",
    "Support Team <support@shop.example> schrieb am Mo., 5. Jan. 2026, 10:00:",
    "Le lun. 5 janv. 2026 à 10:00, Support <support@shop.example> a écrit :",
    "Le 5 janv. 2026 à 10:00, Support a\u00a0écrit\u00a0:",
    "El lun, 5 ene 2026 a las 10:00, Support (<support@shop.example>) escribió:",
])
def test_non_english_attributions(attribution: str) -> None:
    body = f"Danke, alles gut.\n\n{attribution}\n> Alte Nachricht\n"
    parts = split_thread(body)
    assert parts.new_text == "Danke, alles gut."
    assert parts.quoted == f"{attribution}\n> Alte Nachricht"


def test_attribution_followed_by_unmarked_text_quotes_the_rest() -> None:
    body = "Yes please.\n\nOn 5 Jan 2026, at 10:00, Support wrote:\n\nShall we send a new one?\n"
    parts = split_thread(body)
    assert parts.new_text == "Yes please."
    assert parts.quoted == "On 5 Jan 2026, at 10:00, Support wrote:\n\nShall we send a new one?"


def test_a_sentence_ending_in_wrote_is_no_attribution() -> None:
    body = "On Monday my colleague wrote:\nplease cancel the order.\n"
    assert split_thread(body).new_text == body.strip()


def test_signature_delimiter() -> None:
    body = ("Please cancel my subscription.\n\n-- \nDana Ross\nHead of Ops, Example Ltd\n"
            "+1 555 0100\n\nOn Mon, Jan 5, 2026 at 10:00 AM Support wrote:\n> Hello\n")
    parts = split_thread(body)
    assert parts.new_text == "Please cancel my subscription."
    assert parts.signature == "-- \nDana Ross\nHead of Ops, Example Ltd\n+1 555 0100".replace(
        "-- ", "--")
    assert parts.quoted.startswith("On Mon, Jan 5, 2026")
    assert _nothing_lost(body, parts)


def test_bare_double_dash_counts_but_not_at_the_top() -> None:
    assert split_thread("Cancel it.\n--\nDana").signature == "--\nDana"
    assert split_thread("--\nCancel it please.").new_text == "--\nCancel it please."


@pytest.mark.parametrize("line", ["Sent from my iPhone", "Sent from my Galaxy",
                                  "Get Outlook for Android", "Von meinem iPhone gesendet",
                                  "Envoyé de mon iPad"])
def test_mobile_signatures(line: str) -> None:
    parts = split_thread(f"Where is my parcel?\n\n{line}\n")
    assert parts.new_text == "Where is my parcel?"
    assert parts.signature == line


def test_legal_footer() -> None:
    body = ("Please send the invoice again.\n\nBest,\nDana\n\n"
            "This e-mail and any attachments are confidential and may be privileged. If you\n"
            "are not the intended recipient, please delete it.\n")
    parts = split_thread(body)
    assert parts.new_text == "Please send the invoice again.\n\nBest,\nDana"
    assert parts.signature.startswith("This e-mail and any attachments are confidential")
    assert _nothing_lost(body, parts)
    for notice in ("CONFIDENTIALITY NOTICE: The contents are private.",
                   "DISCLAIMER The views expressed are mine.",
                   "This email (including any attachments) is confidential."):
        assert split_thread(f"Send it again.\n\n{notice}").signature == notice


def test_a_first_paragraph_is_never_a_legal_footer() -> None:
    body = "Disclaimer: I am not sure this is a bug.\n\nThe app crashes on start."
    assert split_thread(body).new_text == body


def test_customer_sentences_are_no_footers() -> None:
    for body in ("Hi,\n\nTo unsubscribe I clicked your link, but mails still come.",
                 "Hi,\n\nSent from my office, the form fails with an error.",
                 "Hi,\n\nSent via UPS on Monday, still not here."):
        assert split_thread(body) == ThreadParts(body, "", "")


def test_mailing_list_footer() -> None:
    body = ("How do I reset my password?\n\n_______________________________________________\n"
            "Users mailing list\nusers@lists.example\nhttps://lists.example/listinfo/users\n")
    parts = split_thread(body)
    assert parts.new_text == "How do I reset my password?"
    assert parts.signature.startswith("_____")
    assert "Users mailing list" in parts.signature
    body = ("How do I reset my password?\n\nYou received this message because you are "
            "subscribed to the Google Groups \"users\" group.\nTo unsubscribe, send email to "
            "users+unsubscribe@googlegroups.com.\n")
    parts = split_thread(body)
    assert parts.new_text == "How do I reset my password?"
    assert parts.signature.startswith("You received this message")
    body = ("How do I reset my password?\n\nTo unsubscribe, send an email to "
            "users-leave@lists.example\n")
    parts = split_thread(body)
    assert parts.new_text == "How do I reset my password?"
    assert parts.signature.startswith("To unsubscribe")


def test_forward_only_message_falls_back_to_the_forwarded_text() -> None:
    body = ("---------- Forwarded message ---------\nFrom: Dana Ross <dana@example.com>\n"
            "Date: Mon, Jan 5, 2026 at 10:00 AM\nSubject: Broken screen\n"
            "To: <support@shop.example>\n\n"
            "My screen cracked after one day.\nCan I get a new one?\n")
    parts = split_thread(body)
    assert parts.new_text == "My screen cracked after one day.\nCan I get a new one?"
    assert parts.quoted == body.strip()
    assert parts.signature == ""


def test_apple_forward_with_mobile_signature_falls_back() -> None:
    body = ("Sent from my iPhone\n\nBegin forwarded message:\n\n> From: Dana <dana@example.com>\n"
            "> Date: 5 January 2026 at 10:00:00 CET\n> Subject: Refund\n>\n"
            "> I want my money back.\n")
    parts = split_thread(body)
    assert parts.new_text == "I want my money back."
    assert parts.signature == "Sent from my iPhone"
    assert parts.quoted.startswith("Begin forwarded message:")


def test_fallback_is_capped() -> None:
    body = "-----Original Message-----\n" + "long words here " * 1000
    parts = split_thread(body)
    assert 0 < len(parts.new_text) <= FALLBACK_CHARS
    assert parts.quoted == body.strip()


def test_only_quotes_fall_back_without_marks() -> None:
    parts = split_thread("> > nested old text\n> old text\n")
    assert parts.new_text == "nested old text\nold text"


def test_crlf_and_input_cap() -> None:
    assert split_thread("Line one\r\nLine two\r\n").new_text == "Line one\nLine two"
    assert split_thread("a" * 500, max_chars=100).new_text == "a" * 100


def test_empty_body() -> None:
    assert split_thread("") == ThreadParts("", "", "")
    assert split_thread(" \n\n ") == ThreadParts("", "", "")


def test_ten_thousand_short_lines_run() -> None:
    body = "\n".join(f"line {i}: {'> quoted' if i % 3 == 0 else 'text'}" for i in range(10_000))
    body += "\n" + "\n".join(["From: x", "On 1 wrote:", "-- ", "_____", "> q"] * 2_000)
    started = time.perf_counter()
    parts = split_thread(body, max_chars=10_000_000)
    print(f"split_thread: {body.count(chr(10)) + 1} lines in {time.perf_counter() - started:.3f} s")
    assert parts.new_text.startswith("line 0: > quoted\nline 1: text")
