"""Raw RFC 822 / MIME messages, as mail gateways hand them over, turned into what replyd needs.

Pure functions over bytes, the standard library's ``email`` package only. The MIME structure is
read with ``policy.compat32`` and the few headers replyd uses are decoded with
``policy.default``'s header classes: ``policy.default`` re-parses every part's Content-Type with
its slow modern parser on each access (a 1 MiB message of 28,000 tiny parts took 15 s that way,
0.6 s this way); its decoding (RFC 2047, addresses, dates) is the same either way.

Nothing here logs: a message's text and addresses never leave the returned values, and
``MailError`` says why bytes are no message without quoting them.

Robustness rules: a bad charset falls back (declared, utf-8, windows-1252, latin-1) and never
raises; a header the parser cannot read counts as absent or is read raw; header fields are
bounded before parsing (``daemon.mail_bytes``); attachments are listed, never inlined; all of it
is linear in the input, ``html_to_text`` (``daemon.html_text``) included.
"""

from __future__ import annotations

import email
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from daemon.html_text import html_to_text
from daemon.mail_bytes import FIELD_BYTES, bounded_headers, decode_bytes, unsurrogate

__all__ = ["Attachment", "MailError", "ParsedMail", "html_to_text", "no_reply_reason",
           "parse_message", "reply_address", "reply_name", "spam_verdict"]

MAX_HEADER_CHARS = 998  # RFC 5322's line limit; also the cap on one header value here
# Headers kept in ParsedMail.headers: the ones the brief names plus those no_reply_reason and
# spam_verdict read.
KEPT_HEADERS = (
    "in-reply-to", "references", "list-id", "list-post", "auto-submitted", "precedence",
    "content-language", "reply-to", "return-path", "x-autoreply", "x-autorespond",
    "x-auto-reply-from", "list-unsubscribe", "x-spam-flag", "x-spam-status", "x-spam",
    "x-ms-exchange-organization-scl", "x-ses-spam-verdict", "x-ses-virus-verdict",
)
# Exchange's spam confidence level runs from -1 (trusted sender) to 9; Microsoft's filters send
# 5 and over to the junk folder as spam.
_SPAM_SCL = 5
# A sender that takes no replies: "noreply@", "no-reply@", "do-not-reply@", "donotreply+x@".
_NO_REPLY_LOCAL = re.compile(r"(?:^|[-_.+])(?:no|do[-_.]?not)[-_.]?reply(?:$|[-_.+\d])",
                             re.IGNORECASE)
# The shape of an address the wire contract accepts (daemon.contracts.Address).
BARE_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")
_ID_HEADERS = frozenset({"message-id", "in-reply-to", "references"})  # read raw, never decoded
# Without one of these the bytes are not a message (a bare text, a binary blob).
_MESSAGE_HEADERS = frozenset({
    "from", "sender", "to", "cc", "subject", "date", "message-id", "mime-version",
    "content-type", "received", "delivered-to", "return-path", "reply-to",
})
# Text parts that only render the body another way: neither body nor attachment.
_RENDERINGS = frozenset({"text/enriched", "text/richtext", "text/watch-html", "text/x-watch-html"})
_NAME_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "phd", "ph.d.", "md",
                            "m.d.", "esq", "esq.", "mba"})
_ADDRESS_CHARS = 400  # an address header is parsed only this far: its first mailbox is enough
_ADDRESS_HEADERS = frozenset({"from", "sender", "to", "cc", "bcc", "reply-to", "delivered-to",
                              "x-original-to", "return-path"})
_CONTROLS = dict.fromkeys([*range(0x20), 0x7F], " ")


class MailError(ValueError):
    """Raw bytes that are not a usable message; the text says why, never what the bytes hold."""


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str  # "" when none
    content_type: str  # e.g. "application/pdf"
    size: int  # decoded bytes


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str | None
    from_address: str | None
    from_name: str
    to: str | None
    subject: str
    body: str
    body_source: str  # "text", "html" or "none"
    received_at: datetime | None
    thread_id: str | None
    headers: dict[str, str]
    attachments: tuple[Attachment, ...]
    skip_reason: str | None


# ---------------------------------------------------------------- text and headers


def one_line(text: str, limit: int = MAX_HEADER_CHARS) -> str:
    """Whitespace runs (CR/LF included) and control characters become one space; capped."""
    return " ".join(text.translate(_CONTROLS).split())[:limit]


def _raw_header(msg: Message, name: str) -> str | None:
    for key, value in msg.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _parsed_header(msg: Message, name: str) -> tuple[Any, str] | None:
    """(the policy's header object or None when it cannot parse it, the unfolded text) of the
    first ``name`` header; None when absent. Address headers are parsed only ``_ADDRESS_CHARS``
    far: their first mailbox is all that is read, and the stdlib's address parser is quadratic
    (a 280 kB To of encoded words: 22 s)."""
    raw = _raw_header(msg, name)
    if raw is None:
        return None
    text = "".join(unsurrogate(raw).splitlines())
    if name in _ID_HEADERS:
        return None, text
    text = text[:_ADDRESS_CHARS if name in _ADDRESS_HEADERS else FIELD_BYTES]
    return _safe(lambda: policy.default.header_factory(name, text)), text


def _header_text(msg: Message, name: str) -> str | None:
    """The decoded value of the first ``name`` header, one line; None when absent."""
    found = _parsed_header(msg, name)
    if found is None:
        return None
    header, text = found
    return one_line(text if header is None else _safe(lambda: str(header), text))


def _safe(call: Callable[[], Any], default: Any = None) -> Any:
    try:
        return call()
    except Exception:  # the email package's parsers raise many kinds on garbage
        return default


def _addresses(msg: Message, name: str) -> list[tuple[str, str, str]]:
    """(display name, local part, domain) of each mailbox in header ``name``; [] on garbage."""
    header, text = _parsed_header(msg, name) or (None, "")
    found = _safe(lambda: [(a.display_name, a.username, a.domain) for a in header.addresses])
    if found is not None:
        return found
    pairs = _safe(lambda: getaddresses([one_line(text)]), [])
    return [(n, *a.rpartition("@")[::2]) if "@" in a else (n, a, "") for n, a in pairs]


def _bare(local: str, domain: str) -> str | None:
    address = f"{local}@{domain}"
    if not local or not domain or len(address) > 320 or any(c.isspace() for c in address):
        return None
    return None if set("<>,;") & set(address) else address


def _first_address(msg: Message, *names: str) -> str | None:
    for name in names:
        for _display, local, domain in _addresses(msg, name):
            if (address := _bare(local, domain)) is not None:
                return address
    return None


def clean_display_name(name: str, address: str | None = None) -> str:
    """Quotes stripped, whitespace collapsed, "Last, First" turned round; "" for an address."""
    name = one_line(name, 200).strip("\"' ")
    name = " ".join(name.replace('"', " ").split())
    if not name or (address and name.lower() == address.lower()):
        return ""
    last, comma, first = name.partition(",")
    last, first = last.strip(), first.strip()
    if comma and last and first and "," not in first and first.lower() not in _NAME_SUFFIXES \
            and len(last.split()) <= 2 and len(first.split()) <= 3 \
            and not any(c.isdigit() or c == "@" for c in name):
        return f"{first} {last}"
    return name


def _sender(msg: Message) -> tuple[str | None, str, str]:
    """(bare address, display name, a token to test for mailer-daemon) of the first From."""
    pending: list[str] = []  # words before a comma: "Ross, Dana <d@x>" parses as two mailboxes
    token = ""
    for display, local, domain in _addresses(msg, "from"):
        address = _bare(local, domain)
        token = token or (address or local)
        if address is None:
            if local and not domain and not display and " " not in local:
                pending.append(local)
            continue
        name = ", ".join([*pending, display]) if display and pending else display
        return address, clean_display_name(name, address), token
    return None, "", token


def _received_at(msg: Message) -> datetime | None:
    header, text = _parsed_header(msg, "date") or (None, "")
    when = _safe(lambda: header.datetime)
    if when is None and text:
        when = _safe(lambda: parsedate_to_datetime(text))
    if not isinstance(when, datetime):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def first_message_id(value: str | None) -> str | None:
    """The first ``<id>`` in a References / In-Reply-To value, else its first token."""
    if not value:
        return None
    start = value.find("<")
    end = value.find(">", start + 1) if start >= 0 else -1
    if start >= 0 and end > start + 1:
        return "".join(value[start:end + 1].split())
    tokens = value.split()
    return tokens[0] if tokens else None


# ---------------------------------------------------------------- MIME tree


def _content_type(part: Message) -> str:
    return str(_safe(part.get_content_type, "text/plain")).lower()


def _filename(part: Message) -> str:
    """RFC 2231 decoded by the parser; RFC 2047 words in a name (Outlook writes them) here."""
    name = _safe(part.get_filename)
    if not name:
        return ""
    text = one_line(unsurrogate(str(name)), 1_000)
    return one_line(_safe(lambda: str(policy.default.header_factory("subject", text)), text), 255)


def _leaf_kind(part: Message, ctype: str, root: bool) -> str:
    """"plain", "html", "attachment" or "other" (an alternative rendering of the body).

    A named text part is an attached file unless marked inline, or it is the whole message."""
    disposition = _safe(part.get_content_disposition)
    if disposition == "attachment":
        return "attachment"
    if ctype.startswith("multipart/"):  # declared multipart, no usable boundary: its text
        return "plain"
    named = not root and disposition != "inline" and bool(_filename(part))
    if not ctype.startswith("text/") or named:
        return "attachment"
    if ctype in ("text/plain", "text/html"):
        return ctype[5:]
    return "other" if ctype in _RENDERINGS else "attachment"


def _children(part: Message, ctype: str) -> list[Message] | None:
    """Sub-parts to walk into; None for a leaf. message/* (forwarded mail) is a leaf."""
    if not ctype.startswith("multipart/") or not _safe(part.is_multipart, False):
        return None
    payload = _safe(part.get_payload, [])
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else None


def _tree(msg: Message) -> tuple[list[tuple[Message, str, str]], list[list[int]]]:
    """Every part in document order as (part, content type, leaf kind or "") and child lists.

    Iterative (no recursion limit); a parent's index is always below its children's."""
    parts: list[tuple[Message, str, str]] = []
    kids: list[list[int]] = []
    stack: list[tuple[Message, int]] = [(msg, -1)]
    while stack:
        part, parent = stack.pop()
        index = len(parts)
        ctype = _content_type(part)
        subs = _children(part, ctype)
        kind = "" if subs is not None else _leaf_kind(part, ctype, parent < 0)
        parts.append((part, ctype, kind))
        kids.append([])
        if parent >= 0:
            kids[parent].append(index)
        stack.extend((sub, index) for sub in reversed(subs or []))
    return parts, kids


def _walk(msg: Message) -> Iterator[tuple[Message, str, str, bool]]:
    """(part, content type, kind, body-eligible) for every leaf, in document order.

    In a multipart/alternative only one child may give the body: the first that holds a
    text/plain leaf, else the last that holds text/html. Two linear passes over the tree."""
    parts, kids = _tree(msg)
    has: list[frozenset[str]] = [frozenset()] * len(parts)  # body kinds in each subtree
    for i in range(len(parts) - 1, -1, -1):
        kind = parts[i][2]
        has[i] = frozenset({kind} & {"plain", "html"}).union(*(has[k] for k in kids[i]))
    eligible = [True] * len(parts)
    for i, (_part, ctype, _kind) in enumerate(parts):
        chosen = set(kids[i])
        if ctype == "multipart/alternative":
            plain = [k for k in kids[i] if "plain" in has[k]]
            html = [k for k in kids[i] if "html" in has[k]]
            chosen = {plain[0]} if plain else {html[-1]} if html else set()
        for k in kids[i]:
            eligible[k] = eligible[i] and k in chosen
    for i, (part, ctype, kind) in enumerate(parts):
        if kind:
            yield part, ctype, kind, eligible[i]


def _part_text(part: Message) -> str:
    data = _safe(lambda: part.get_payload(decode=True))
    if not isinstance(data, bytes):
        return ""
    return decode_bytes(data, _safe(part.get_content_charset))


def _attachment(part: Message, ctype: str) -> Attachment:
    if ctype.startswith("message/") or _safe(part.is_multipart, False):
        inner = _safe(part.get_payload, [])
        size = sum(_safe(lambda p=p: len(p.as_bytes()), 0) for p in inner
                   if isinstance(p, Message)) if isinstance(inner, list) else 0
    else:
        data = _safe(lambda: part.get_payload(decode=True))
        size = len(data) if isinstance(data, bytes) else 0
    return Attachment(_filename(part), ctype, size)


def _tidy_body(text: str, limit: int) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()[:limit]


def _body(leaves: list[tuple[Message, str, str, bool]], limit: int) -> tuple[str, str]:
    """(body, "text" | "html" | "none"): the body-eligible text/plain parts, joined; else the
    HTML ones converted; else (an empty text/plain alternative) any HTML part's text."""
    texts = [_part_text(part) for part, _ctype, kind, ok in leaves if ok and kind == "plain"]
    body = _tidy_body("\n\n".join(t.strip() for t in texts if t.strip()), limit)
    if body:
        return body, "text"
    for eligible_only in (True, False):
        htmls = [_part_text(part) for part, _ctype, kind, ok in leaves
                 if kind == "html" and (ok or not eligible_only)]
        body = _tidy_body("\n\n".join(html_to_text(h, limit) for h in htmls), limit)
        if body:
            return body, "html"
    return "", "none"


# ---------------------------------------------------------------- public


def no_reply_reason(headers: Mapping[str, str], from_address: str | None,
                    content_type: str = "") -> str | None:
    """Why a message wants no reply ("bounce", "auto_reply", "mailing_list", "bulk"), else None.

    ``headers`` has lower-case keys. Checked in that order of precedence. A sender that takes
    no replies ("noreply@...") with no Reply-To elsewhere is machine mail: "auto_reply"."""
    lower = {key.lower(): str(value) for key, value in headers.items()}
    local = (from_address or "").rpartition("@")[0] or (from_address or "")
    if content_type.split(";")[0].strip().lower() == "multipart/report" \
            or local.strip().lower() in ("mailer-daemon", "postmaster") \
            or lower.get("return-path", "").strip() == "<>":
        return "bounce"
    submitted = lower.get("auto-submitted", "").split(";")[0].strip().lower()
    precedence = lower.get("precedence", "").strip().lower()
    if submitted not in ("", "no") or precedence == "auto_reply" or any(
            key in lower for key in ("x-autoreply", "x-autorespond", "x-auto-reply-from")):
        return "auto_reply"
    if "list-id" in lower or "list-post" in lower:
        return "mailing_list"
    if precedence in ("bulk", "junk", "list"):
        return "bulk"
    if "list-unsubscribe" in lower:  # RFC 2369, on newsletters that carry no List-Id
        return "mailing_list"
    replies_to = reply_address(lower, from_address or "")
    if _NO_REPLY_LOCAL.search(replies_to.rpartition("@")[0] or replies_to):
        return "auto_reply"
    return None


def spam_verdict(headers: Mapping[str, str]) -> bool:
    """Whether the receiving mail system's filter marked the message as spam or malware in its
    own header: SpamAssassin's ``X-Spam-Flag: YES`` or ``X-Spam-Status: Yes, score=...``
    (Rspamd writes the latter too), Rspamd's ``X-Spam: Yes``, Exchange's
    ``X-MS-Exchange-Organization-SCL`` of 5 or more, Amazon SES's ``X-SES-Spam-Verdict`` or
    ``X-SES-Virus-Verdict: FAIL``. A "No", a score alone or an unreadable value is no verdict:
    only the filter's own decision counts, never a threshold of replyd's."""
    lower = {key.lower(): str(value)[:MAX_HEADER_CHARS].strip().lower()
             for key, value in headers.items()}
    if "yes" in (lower.get("x-spam-flag"), lower.get("x-spam"),
                 lower.get("x-spam-status", "").split(",")[0].strip()):
        return True
    if "fail" in (lower.get("x-ses-spam-verdict"), lower.get("x-ses-virus-verdict")):
        return True
    scl = lower.get("x-ms-exchange-organization-scl", "")
    return scl.isdigit() and int(scl) >= _SPAM_SCL


def reply_address(headers: Mapping[str, str], from_address: str) -> str:
    """Where a reply goes: the first usable address of Reply-To (RFC 5322 3.6.2: the author's
    choice, e.g. a web form sent from "noreply@" on a customer's behalf), else From."""
    return _reply_mailbox(headers)[0] or from_address


def reply_name(headers: Mapping[str, str], from_address: str, from_name: str) -> str:
    """The name to greet: Reply-To's display name when From takes no replies ("Website Form"
    <noreply@...>, the customer in Reply-To), else ``from_name``."""
    if not _NO_REPLY_LOCAL.search(from_address.rpartition("@")[0]):
        return from_name
    address, name = _reply_mailbox(headers)
    return clean_display_name(name, address) if address and name else from_name


def _reply_mailbox(headers: Mapping[str, str]) -> tuple[str, str]:
    value = next((str(v) for k, v in headers.items() if k.lower() == "reply-to"), "") \
        if headers else ""
    if value:
        for name, address in getaddresses([value[:MAX_HEADER_CHARS]]):
            if BARE_ADDRESS.match(address) and len(address) <= 320:
                return address, name
    return "", ""


def parse_message(raw: bytes, max_body_chars: int = 200_000) -> ParsedMail:
    """Parse one message; raises MailError only for bytes that are no message at all."""
    if not isinstance(raw, bytes | bytearray) or not bytes(raw).strip():
        raise MailError("empty message" if isinstance(raw, bytes | bytearray) else "not bytes")
    try:
        msg = email.message_from_bytes(bounded_headers(bytes(raw)), policy=policy.compat32)
        names = {str(key).lower() for key, _value in msg.raw_items()}
    except (RecursionError, MemoryError):
        raise MailError("MIME structure nested too deeply") from None
    except Exception as exc:
        raise MailError(f"unparseable message ({type(exc).__name__})") from None
    if not names & _MESSAGE_HEADERS:
        raise MailError("no message header fields (From, To, Subject, Date, ...)")
    try:
        leaves = list(_walk(msg))
    except RecursionError:
        raise MailError("MIME structure nested too deeply") from None
    attachments = [_attachment(part, ctype) for part, ctype, kind, _ in leaves
                   if kind == "attachment"]
    body, source = _body(leaves, max_body_chars)
    headers = {name: value for name in KEPT_HEADERS
               if (value := _header_text(msg, name)) is not None}
    from_address, from_name, token = _sender(msg)
    message_id = "".join((_header_text(msg, "message-id") or "").split()) or None
    return ParsedMail(
        message_id=message_id,
        from_address=from_address,
        from_name=from_name,
        to=_first_address(msg, "to", "delivered-to", "x-original-to", "cc"),
        subject=_header_text(msg, "subject") or "",
        body=body,
        body_source=source,
        received_at=_received_at(msg),
        thread_id=first_message_id(headers.get("references"))
        or first_message_id(headers.get("in-reply-to")),
        headers=headers,
        attachments=tuple(attachments),
        skip_reason=no_reply_reason(headers, from_address or token, _content_type(msg)),
    )
