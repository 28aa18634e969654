"""Raw RFC 822 records and mail that wants no reply, at the Kafka edge."""

from __future__ import annotations

import json
from email.message import EmailMessage

import pytest

from daemon import mail
from daemon.contracts import IncomingEmail, SkippedEmail
from daemon.service import codec
from daemon.service.codec import Rejected, Skipped, decode
from handlers.types import DraftText, Entities, Usage
from tests.daemon.test_contracts import EMAIL

MAIL = codec.MAIL_CONTENT_TYPE


def _message(**headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", '"Dana Ross" <dana@example.org>')
    message["To"] = "support@shop.example"
    message["Subject"] = headers.pop("Subject", "=?utf-8?q?Kettle_l=C3=A9aks?=")
    message["Message-ID"] = "<m1@example.org>"
    message["Date"] = "Tue, 01 Dec 2026 10:00:00 +0000"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Hi,\n\nMy kettle leaks from the lid.\n\nDana\n")
    message.add_attachment(b"%PDF-1.4 receipt", maintype="application", subtype="pdf",
                           filename="receipt.pdf")
    return message.as_bytes()


def test_a_raw_message_becomes_the_email_a_gateway_would_send() -> None:
    email = decode(_message(), 1_000_000, MAIL)
    assert isinstance(email, IncomingEmail)
    assert email.from_ == "dana@example.org"
    assert email.from_name == "Dana Ross"
    assert email.subject == "Kettle léaks"
    assert email.message_id == "<m1@example.org>"
    assert "kettle leaks" in email.body
    assert "PDF" not in email.body  # attachments are listed, never inlined
    assert [(a.filename, a.content_type) for a in email.attachments] == [
        ("receipt.pdf", "application/pdf")]
    assert email.received_at.year == 2026


@pytest.mark.parametrize(("headers", "reason"), [
    ({"Auto_Submitted": "auto-replied"}, "auto_reply"),
    ({"List_Id": "<kettles.lists.example>"}, "mailing_list"),
    ({"Precedence": "bulk"}, "bulk"),
    ({"From": "MAILER-DAEMON@mx.example"}, "bounce"),
])
def test_mail_that_wants_no_reply_is_skipped(headers: dict[str, str], reason: str) -> None:
    decoded = decode(_message(**headers), 1_000_000, MAIL)
    assert isinstance(decoded, Skipped)
    assert decoded.reason == reason
    record = json.loads(codec.skipped_record(decoded))
    assert SkippedEmail.model_validate(record).reason == reason
    assert record["outcome"] == "skipped" and "body" not in record
    assert record["in_reply_to"] == "<m1@example.org>"


def test_json_emails_are_skipped_by_the_headers_the_gateway_parsed() -> None:
    value = json.dumps({**EMAIL, "headers": {"auto-submitted": "auto-generated"}}).encode()
    decoded = decode(value, 10_000)
    assert isinstance(decoded, Skipped) and decoded.reason == "auto_reply"
    value = json.dumps({**EMAIL, "headers": {"Auto-Submitted": "no"}}).encode()
    assert isinstance(decode(value, 10_000), IncomingEmail)


def test_a_newsletter_footer_is_bulk_unless_turned_off() -> None:
    body = "Our winter sale starts today.\n\nTo unsubscribe, visit https://news.shop.example/u"
    value = json.dumps({**EMAIL, "subject": "Kettle News", "body": body}).encode()
    decoded = decode(value, 10_000)
    assert isinstance(decoded, Skipped) and decoded.reason == "bulk"
    assert isinstance(decode(value, 10_000, bulk_text=False), IncomingEmail)
    raw = _message().replace(b"Dana\n", b"Dana\n\nYou are receiving this email because you "
                             b"subscribed.\n")
    mailed = decode(raw, 1_000_000, MAIL)
    assert isinstance(mailed, Skipped) and mailed.reason == "bulk"
    assert isinstance(decode(raw, 1_000_000, MAIL, bulk_text=False), IncomingEmail)


@pytest.mark.parametrize(("headers", "spam"), [
    ({"X-Spam-Flag": "YES"}, True),  # SpamAssassin
    ({"X-Spam-Status": "Yes, score=9.1 required=5.0 tests=BAYES_99"}, True),
    ({"X-Spam-Status": "No, score=4.9 required=5.0 tests=BAYES_50"}, False),
    ({"X-Spam": "Yes"}, True),  # Rspamd
    ({"X-Spam": "No"}, False),
    ({"X-MS-Exchange-Organization-SCL": "5"}, True),  # Exchange: 5-9 is spam
    ({"X-MS-Exchange-Organization-SCL": "1"}, False),
    ({"X-MS-Exchange-Organization-SCL": "-1"}, False),  # a trusted sender
    ({"X-MS-Exchange-Organization-SCL": "high"}, False),  # unreadable: no verdict
    ({"X-SES-Spam-Verdict": "FAIL"}, True),  # Amazon SES
    ({"X-SES-Virus-Verdict": "FAIL", "X-SES-Spam-Verdict": "PASS"}, True),
    ({"X-SES-Spam-Verdict": "GRAY"}, False),
    ({"X-Spam-Score": "25.0"}, False),  # a score alone is no verdict
])
def test_the_mail_systems_spam_verdict_is_honoured(headers: dict[str, str], spam: bool) -> None:
    assert mail.spam_verdict(headers) is spam
    value = json.dumps({**EMAIL, "headers": headers}).encode()
    decoded = decode(value, 10_000)
    assert isinstance(decoded, Skipped if spam else IncomingEmail)
    assert not spam or decoded.reason == "spam"
    mailed = decode(_message(**{k.replace("-", "_"): v for k, v in headers.items()}),
                    1_000_000, MAIL)
    assert isinstance(mailed, Skipped if spam else IncomingEmail)
    assert isinstance(decode(value, 10_000, spam=False), IncomingEmail)
    assert isinstance(codec.decode_all([(value, None)], 10_000, codec.JSON_CONTENT_TYPE,
                                       spam=False)[0], IncomingEmail)


def test_the_spam_verdict_comes_before_the_other_reasons() -> None:
    decoded = decode(_message(List_Id="<kettles.lists.example>", X_Spam_Flag="YES"),
                     1_000_000, MAIL)
    assert isinstance(decoded, Skipped) and decoded.reason == "spam"
    record = json.loads(codec.skipped_record(decoded))
    assert SkippedEmail.model_validate(record).reason == "spam"
    listed = decode(_message(List_Id="<kettles.lists.example>", X_Spam_Flag="YES"),
                    1_000_000, MAIL, spam=False)
    assert isinstance(listed, Skipped) and listed.reason == "mailing_list"


def test_drafts_and_skipped_records_go_to_reply_to() -> None:
    form = {**EMAIL, "from": "noreply@forms.example",
            "headers": {"Reply-To": "Dana Ross <dana@example.org>"}}
    email = decode(json.dumps(form).encode(), 10_000)
    assert isinstance(email, IncomingEmail)
    assert codec.reply_to(email) == "dana@example.org"
    assert codec.email_text(email).from_name == "Dana Ross"
    person = decode(json.dumps({**EMAIL, "from_name": "Ana Lopez", "headers": {
        "reply-to": "Team Inbox <team@example.com>"}}).encode(), 10_000)
    assert isinstance(person, IncomingEmail)
    assert codec.email_text(person).from_name == "Ana Lopez"  # From takes replies: its name
    assert codec.reply_to(person) == "team@example.com"
    draft = DraftText(body="Hi Dana,\n\nThanks.", sentiment="neutral", entities=Entities(),
                      persona=None, needs_review=False, adapters={"reply": None},
                      usage=Usage(1, 1), timings_ms={"reply": 1.0})
    assert codec.draft_for(email, draft, "base").to == "dana@example.org"
    encoder = codec.DraftEncoder(draft.adapters, draft.timings_ms, "base")
    assert json.loads(encoder.encode(email, draft))["to"] == "dana@example.org"
    bare = decode(json.dumps({**EMAIL, "from": "noreply@forms.example"}).encode(), 10_000)
    assert isinstance(bare, Skipped) and bare.reason == "auto_reply"
    listed = decode(json.dumps({**form, "headers": {**form["headers"], "Precedence": "bulk"}})
                    .encode(), 10_000)
    assert isinstance(listed, Skipped)
    assert json.loads(codec.skipped_record(listed))["to"] == "dana@example.org"


def test_a_message_without_a_message_id_gets_a_stable_one() -> None:
    raw = _message().replace(b"Message-ID: <m1@example.org>\n", b"")
    first, second = decode(raw, 1_000_000, MAIL), decode(raw, 1_000_000, MAIL)
    assert isinstance(first, IncomingEmail) and isinstance(second, IncomingEmail)
    assert first.message_id == second.message_id
    assert first.message_id.endswith("@replyd.invalid>")


def test_unusable_messages_are_dead_letters_with_a_reason() -> None:
    no_sender = decode(b"Subject: hello\n\nno from header here\n", 1_000_000, MAIL)
    assert isinstance(no_sender, Rejected) and no_sender.reason == "invalid_mail"
    assert "hello" not in no_sender.error
    assert decode(b"x" * 2000, 1000, MAIL) == Rejected(
        "too_large", "record is 2000 bytes; the limit is 1000")
    unknown = decode(b"{}", 1000, "text/csv")
    assert isinstance(unknown, Rejected) and unknown.reason == "schema"


def test_the_content_type_header_selects_the_format() -> None:
    assert codec.content_type([("Content-Type", b"message/rfc822; x=1")], "application/json") \
        == MAIL
    assert codec.content_type([("other", b"1")], MAIL) == MAIL
    assert codec.content_type(None, "application/json") == "application/json"


def test_garbage_bytes_as_mail_never_raise() -> None:
    for raw in (b"", b"\x00" * 100, b"\xff\xfe" * 50, b"From: \n\n", b"::::\n\n\n",
                b"From: =?bogus?q?x?= <a@b>\nSubject: =?utf-8?b?####?=\n\nbody"):
        decoded = decode(raw, 1_000_000, MAIL)
        assert isinstance(decoded, (IncomingEmail, Rejected, Skipped))


def test_a_dead_letter_remembers_the_content_type_replay_must_send_again() -> None:
    letter = codec.dead_letter("invalid_mail", "no sender", "in", 0, 3, b"Subject: x\n\nhi",
                               1000, original_content_type="message/rfc822")
    assert json.loads(codec.to_json(letter))["original_content_type"] == "message/rfc822"
    assert codec.header_content_type([("Content-Type", b"message/rfc822")]) == "message/rfc822"
    assert codec.header_content_type([("other", b"x")]) is None


@pytest.mark.parametrize(("name", "count", "read"), [
    ("customer_mail", 24, True), ("customer_mail_2", 30, False), ("customer_mail_3", 30, False),
    ("customer_mail_4", 30, False), ("customer_mail_5", 40, False), ("customer_mail_6", 40, False),
    ("customer_mail_7", 40, False)])
def test_the_customer_mail_sets_decode_to_emails_that_want_a_reply(name: str, count: int,
                                                                   read: bool) -> None:
    """tests/data/customer_mail and the six sets written after it: every message decodes as a
    customer's, none is skipped or rejected (but the sixth set's out-of-office reply and agency
    pitch, which are mail no one answers). The first set was read to write the request reader,
    so each of its emails reads as a request; the others measure the reader (docs/DRAFTS.md)."""
    from pathlib import Path

    from handlers.request import reads_as_request
    from handlers.types import Entities

    folder = Path(__file__).parents[2] / "data" / name
    files = sorted(folder.glob("*.eml"))
    assert len(files) == count
    sixth = name == "customer_mail_6"
    unanswered = {"08-out-of-office-autoreply.eml": "auto_reply",
                  "40-creator-agency-pitch.eml": "mailing_list"} if sixth else {}
    bare = {"10-cancel-wrong-tv-size.eml"} if sixth else set()  # From: an address, no name
    for path in files:
        email = decode(path.read_bytes(), 1_000_000, MAIL)
        if path.name in unanswered:
            assert isinstance(email, Skipped) and email.reason == unanswered[path.name]
            continue
        assert isinstance(email, IncomingEmail), path.name
        assert (email.from_name or path.name in bare) and email.body.strip()
        assert email.from_.endswith((".example.com", "@example.com", "@example.org",
                                     "@example.net"))
        assert reads_as_request(codec.email_text(email), Entities()) or not read, path.name
