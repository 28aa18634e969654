"""`replyd produce`: put emails on a topic, from a JSONL file, the synthetic generator, raw
lines, or real mail (.eml files, an mbox, a Maildir).

Real mail goes as the raw RFC 822 bytes with the record header ``content-type:
message/rfc822`` (keyed by its Message-ID when it has one), or, with ``as_json``, parsed into an
``IncomingEmail`` by the daemon's own ``codec.incoming_from_mail`` and sent as JSON. Every message
is read and checked against the size limit before anything is sent.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import mailbox
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from pydantic import ValidationError

from daemon.contracts import IncomingEmail
from daemon.settings import Settings
from daemon.tools.jsonl import numbered_lines
from models.errors import ConfigurationError

MAX_RAW_LINE_BYTES = 4 * 1024 * 1024
Message = tuple[bytes | None, bytes]  # (key, value)
Headers = list[tuple[str, bytes]]
# (key, value, record headers): a message that carries Kafka record headers.
HeaderedMessage = tuple[bytes | None, bytes, Headers]
RFC822_HEADERS: Headers = [("content-type", b"message/rfc822")]


def from_jsonl(path: Path) -> list[Message]:
    """Every non-empty line must be an IncomingEmail; all are checked before anything is sent,
    and each is sent as the bytes it is in the file."""
    messages: list[Message] = []
    problems: list[str] = []
    for number, line in numbered_lines(path):
        try:
            email = IncomingEmail.model_validate_json(line)
        except ValidationError as exc:
            problems.append(f"line {number}: {exc.errors(include_input=False)[0]['msg']}")
            continue
        messages.append((email.message_id.encode(), line.rstrip(b"\r\n")))
    if problems:
        shown = "; ".join(problems[:5])
        raise ConfigurationError(
            f"{path}: {len(problems)} invalid line(s), nothing sent ({shown}); use --raw to send "
            "bytes unchecked"
        )
    return messages


def from_raw(path: Path) -> list[Message]:
    """Each line (empty ones included) as one message, bytes unchanged, no key."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()  # the newline ends the last line; it does not start an empty one
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_RAW_LINE_BYTES:
            raise ConfigurationError(
                f"{path}: line {number} is {len(line)} bytes; --raw sends at most "
                f"{MAX_RAW_LINE_BYTES}"
            )
    return [(None, line) for line in lines]


def synthetic(n: int, seed: int) -> list[Message]:
    """``n`` realistic synthetic customer emails (the project's own generator)."""
    from models.synth.emails import generate_emails

    now = datetime.now(UTC)
    emails = generate_emails(n, seed=seed, split="eval")
    return [
        (email.message_id.encode(), json.dumps(email.as_incoming(now)).encode())
        for email in emails
    ]


# -- real mail ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MailFile:
    """One message read from disk: where it came from (for error messages) and its bytes."""

    origin: str
    raw: bytes


def read_eml(paths: Iterable[Path]) -> list[MailFile]:
    """Each file is one message, its bytes unchanged."""
    found = []
    for path in paths:
        if not path.is_file():
            raise ConfigurationError(f"{path} is not a file")
        found.append(MailFile(str(path), path.read_bytes()))
    return found


def read_mbox(path: Path) -> list[MailFile]:
    """Every message of an mbox file in file order, without its ``From `` separator line."""
    if not path.is_file():
        raise ConfigurationError(f"{path} is not an mbox file")
    box = mailbox.mbox(path, factory=None, create=False)
    try:
        return [MailFile(f"{path} message {number}", box.get_bytes(key))
                for number, key in enumerate(box.keys(), start=1)]
    finally:
        box.close()


def read_maildir(path: Path) -> list[MailFile]:
    """Every message of a Maildir (new/ and cur/), in the order of their unique names."""
    if not (path / "cur").is_dir() or not (path / "new").is_dir():
        raise ConfigurationError(f"{path} is not a Maildir (it needs cur/ and new/)")
    box = mailbox.Maildir(path, factory=None, create=False)
    return [MailFile(f"{path} message {key}", box.get_bytes(key)) for key in sorted(box.keys())]


def read_mail(eml: Sequence[Path] | None, mbox: Path | None,
              maildir: Path | None) -> list[MailFile] | None:
    """The messages of whichever real-mail source is given; None when none is."""
    if eml is not None:
        return read_eml(eml)
    if mbox is not None:
        return read_mbox(mbox)
    return read_maildir(maildir) if maildir is not None else None


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID header's value (whitespace trimmed), or None; only the header block is
    parsed, leniently."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    value = headers.get("Message-ID")
    text = " ".join(str(value).split()) if value is not None else ""
    return text or None


def mail_key(raw: bytes) -> bytes | None:
    """The record key of a raw message: its Message-ID (as found), or None without one."""
    message_id = message_id_of(raw)
    return message_id.encode("utf-8", "surrogateescape") if message_id else None


@dataclass
class MailBatch:
    """What ``from_mail`` will send; ``as_json`` only: how many of them the daemon will skip
    (no reply wanted), by reason."""

    messages: list[HeaderedMessage] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def from_mail(files: Sequence[MailFile], max_bytes: int, *, as_json: bool = False,
              check_size: bool = True) -> MailBatch:
    """Raw RFC 822 records (header ``content-type: message/rfc822``, key = Message-ID if any),
    or with ``as_json`` the ``IncomingEmail`` JSON that ``codec.incoming_from_mail`` makes of
    each (no record header; key = its message id). Every message is checked first: one over
    ``max_bytes`` (the daemon's max_body_bytes) or one the parser rejects means nothing is
    sent."""
    if not files:
        raise ConfigurationError("no messages found")
    batch = MailBatch()
    problems: list[str] = []
    for mail in files:
        headers: Headers = []
        if as_json:
            parsed = _as_json(mail, batch, problems)
            if parsed is None:
                continue
            key, record = parsed
        else:
            key, record, headers = mail_key(mail.raw), mail.raw, list(RFC822_HEADERS)
        if check_size and len(record) > max_bytes:
            problems.append(f"{mail.origin} is {len(record)} bytes, over max_body_bytes "
                            f"{max_bytes}")
            continue
        batch.messages.append((key, record, headers))
    if problems:
        shown = "; ".join(problems[:5])
        raise ConfigurationError(f"{len(problems)} message(s) refused, nothing sent ({shown})")
    return batch


def _as_json(mail: MailFile, batch: MailBatch,
             problems: list[str]) -> tuple[bytes, bytes] | None:
    """(key, JSON) of the message as the daemon parses it; None (and a problem) if rejected."""
    from daemon.service import codec

    parse = getattr(codec, "incoming_from_mail", None)
    if parse is None:
        raise ConfigurationError("--as-json needs daemon.service.codec.incoming_from_mail, which "
                                 "this version of the daemon does not have")
    parsed = parse(mail.raw)
    if isinstance(parsed, codec.Rejected):
        problems.append(f"{mail.origin}: {parsed.reason} ({parsed.error})")
        return None
    if not isinstance(parsed, IncomingEmail):  # Skipped: sent all the same, the daemon skips it
        batch.skipped[str(parsed.reason)] += 1
        parsed = parsed.email
    return parsed.message_id.encode(), parsed.model_dump_json(by_alias=True).encode()


def iter_batches(
    messages: Sequence[Message | HeaderedMessage], size: int
) -> Iterator[Sequence[Message | HeaderedMessage]]:
    for start in range(0, len(messages), size):
        yield messages[start : start + size]


async def produce(
    settings: Settings, topic: str, messages: Sequence[Message | HeaderedMessage]
) -> list[RecordMetadata]:
    """Send every message and wait for each acknowledgement; returns their coordinates in order.

    A message is (key, value) or (key, value, record headers)."""
    largest = max((len(m[1]) for m in messages), default=0)
    producer = AIOKafkaProducer(
        **settings.kafka_common(),
        acks="all",
        linger_ms=5,
        enable_idempotence=False,
        max_request_size=max(MAX_RAW_LINE_BYTES, largest) + 65_536,
    )
    await producer.start()
    try:
        acknowledged: list[RecordMetadata] = []
        for chunk in iter_batches(messages, 1000):
            futures = [
                await producer.send(topic, m[1], key=m[0], headers=m[2] if len(m) > 2 else None)
                for m in chunk
            ]
            acknowledged.extend(await asyncio.gather(*futures))
        return acknowledged
    finally:
        await producer.stop()
