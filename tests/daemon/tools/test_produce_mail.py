"""`replyd produce --eml/--mbox/--maildir`: real mail read with the standard library from files
made here, sent raw with a content-type header (or as IncomingEmail JSON with --as-json)."""

from __future__ import annotations

import asyncio
import mailbox
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from daemon.cli import build_parser
from daemon.contracts import IncomingEmail
from daemon.settings import Settings
from daemon.tools import produce
from daemon.tools.broker import EmbeddedBroker
from daemon.tools.topics import ensure_topics
from models.errors import ConfigurationError
from tests.conftest import REPO
from tests.daemon.kafka_helpers import read


def message(n: int, *, message_id: bool = True, body: str = "My kettle is broken.") -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Ada Customer{n} <ada{n}@example.com>"
    mail["To"] = "support@example.com"
    mail["Subject"] = f"Kettle {n}"
    if message_id:
        mail["Message-ID"] = f"<kettle-{n}@example.com>"
    mail.set_content(body)
    return bytes(mail)


def test_read_eml_keeps_the_bytes(tmp_path: Path) -> None:
    paths = []
    for n in range(2):
        paths.append(tmp_path / f"{n}.eml")
        paths[-1].write_bytes(message(n) + b"\xff trailing non-UTF-8 byte\n")
    files = produce.read_eml(paths)
    assert [f.raw for f in files] == [p.read_bytes() for p in paths]
    with pytest.raises(ConfigurationError, match="is not a file"):
        produce.read_eml([tmp_path / "missing.eml"])


def test_read_mbox_in_file_order_without_from_lines(tmp_path: Path) -> None:
    path = tmp_path / "box.mbox"
    box = mailbox.mbox(path)
    for n in range(3):
        box.add(message(n))
    box.flush()
    box.close()
    files = produce.read_mbox(path)
    assert [produce.message_id_of(f.raw) for f in files] == [
        f"<kettle-{n}@example.com>" for n in range(3)
    ]
    assert not any(f.raw.startswith(b"From ") for f in files)
    assert b"My kettle is broken." in files[0].raw
    with pytest.raises(ConfigurationError, match="not an mbox"):
        produce.read_mbox(tmp_path / "nothing")


def test_read_maildir_new_and_cur(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "md", create=True)
    keys = [box.add(message(n)) for n in range(2)]
    seen = mailbox.MaildirMessage(message(9))
    seen.set_subdir("cur")
    keys.append(box.add(seen))
    files = produce.read_maildir(tmp_path / "md")
    assert len(files) == 3
    assert {produce.message_id_of(f.raw) for f in files} == {
        "<kettle-0@example.com>", "<kettle-1@example.com>", "<kettle-9@example.com>"
    }
    assert files == produce.read_maildir(tmp_path / "md")  # a stable order
    with pytest.raises(ConfigurationError, match="not a Maildir"):
        produce.read_maildir(tmp_path)


def test_from_mail_raw_records_carry_the_content_type_and_message_id_key() -> None:
    files = [produce.MailFile("a", message(1)), produce.MailFile("b", message(2, message_id=False))]
    batch = produce.from_mail(files, max_bytes=10_000)
    (key1, value1, headers1), (key2, value2, headers2) = batch.messages
    assert key1 == b"<kettle-1@example.com>" and value1 == files[0].raw
    assert key2 is None and value2 == files[1].raw
    assert headers1 == headers2 == [("content-type", b"message/rfc822")]
    assert not batch.skipped


def test_from_mail_refuses_oversize_before_sending_anything() -> None:
    files = [produce.MailFile("small", message(1)),
             produce.MailFile("big", message(2, body="x" * 5000))]
    with pytest.raises(ConfigurationError, match=r"1 message\(s\) refused, nothing sent \(big is"):
        produce.from_mail(files, max_bytes=2000)
    assert len(produce.from_mail(files, max_bytes=2000, check_size=False).messages) == 2
    with pytest.raises(ConfigurationError, match="no messages"):
        produce.from_mail([], max_bytes=2000)


def test_message_id_of_is_lenient() -> None:
    assert produce.message_id_of(b"Message-ID:\n  <folded@example.com>\n\nbody") == (
        "<folded@example.com>"
    )
    assert produce.message_id_of(b"not a header at all") is None
    assert produce.message_id_of(b"Message-ID: \n\n") is None


def _codec_parser_or_skip() -> None:
    try:
        from daemon.service import codec
    except ImportError as exc:  # the daemon's mail support is being written
        pytest.skip(f"daemon.service.codec does not import yet: {exc}")
    if not hasattr(codec, "incoming_from_mail"):
        pytest.skip("daemon.service.codec.incoming_from_mail does not exist yet")


def test_from_mail_as_json_uses_the_daemons_parser() -> None:
    _codec_parser_or_skip()
    files = [produce.MailFile("a", message(1)), produce.MailFile("b", message(2, message_id=False))]
    batch = produce.from_mail(files, max_bytes=10_000, as_json=True)
    assert len(batch.messages) == 2
    for key, value, headers in batch.messages:
        email = IncomingEmail.model_validate_json(value)
        assert headers == [] and key == email.message_id.encode()
        assert email.from_.startswith("ada") and "kettle" in email.body.casefold()
    assert IncomingEmail.model_validate_json(batch.messages[0][1]).message_id == (
        "<kettle-1@example.com>"
    )
    junk = [produce.MailFile("junk", b"no headers, no sender\n")]
    with pytest.raises(ConfigurationError, match="nothing sent"):
        produce.from_mail(junk, max_bytes=10_000, as_json=True)


def test_produce_sends_record_headers_and_keeps_plain_pairs(
    broker: EmbeddedBroker, settings: Settings
) -> None:
    async def go() -> list[object]:
        await ensure_topics(settings, [settings.input_topic])  # one partition: one order
        await produce.produce(settings, settings.input_topic, [
            (b"k1", b"plain pair"),
            (None, b"raw mail", [("content-type", b"message/rfc822")]),
        ])
        return list(await read(settings, settings.input_topic, 2))

    first, second = asyncio.run(go())
    assert (first.key, first.value, list(first.headers)) == (b"k1", b"plain pair", [])
    assert second.key is None and second.value == b"raw mail"
    assert list(second.headers) == [("content-type", b"message/rfc822")]


def test_cli_produce_eml_end_to_end(
    broker: EmbeddedBroker, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(ensure_topics(settings, [settings.input_topic]))  # one partition: one order
    box = mailbox.mbox(tmp_path / "box")
    box.add(message(1))
    box.add(message(2, message_id=False))
    box.close()
    args = build_parser().parse_args([
        "produce", "--mbox", str(tmp_path / "box"), "--bootstrap", broker.bootstrap,
        "--input-topic", settings.input_topic,
    ])
    assert args.func(args) == 0
    assert "produced 2 messages" in capsys.readouterr().out
    records = asyncio.run(read(settings, settings.input_topic, 2))
    assert [r.key for r in records] == [b"<kettle-1@example.com>", None]
    assert all(list(r.headers) == [("content-type", b"message/rfc822")] for r in records)


def replyd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon.cli", "--plain-logs", *args],
                          capture_output=True, text=True, timeout=120, cwd=REPO)


def test_cli_usage_errors_and_help(tmp_path: Path) -> None:
    eml = tmp_path / "a.eml"
    eml.write_bytes(message(1, body="y" * 3000))
    done = replyd("produce", "--synthetic", "2", "--as-json", "--bootstrap", "127.0.0.1:1")
    assert done.returncode == 2 and "with --eml, --mbox or --maildir" in done.stderr
    done = replyd("produce", "--eml", str(eml), "--mbox", str(eml))
    assert done.returncode == 2 and "not allowed with" in done.stderr
    # Refused before any connection is tried (nothing listens on port 1).
    done = replyd("produce", "--eml", str(eml), "--max-body-bytes", "1000",
                  "--bootstrap", "127.0.0.1:1")
    assert done.returncode == 2 and "over max_body_bytes 1000" in done.stderr
    text = replyd("produce", "--help").stdout
    for flag in ("--eml", "--mbox", "--maildir", "--as-json", "--allow-oversize",
                 "message/rfc822"):
        assert flag in text
