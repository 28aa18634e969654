"""Byte-level helpers for daemon.mail: charset decoding that never raises, and raw header
fields bounded before the standard library parses them.

Why the bounds: the stdlib's parameter parser (``Content-Type: a; b; c ...``) and its modern
header parsers are quadratic or worse in a field's length when it is full of quotes or
semicolons; a hostile sender controls every header of every MIME part. Legitimate fields are
far below the bounds.
"""

from __future__ import annotations

import codecs
import re

_REFUSED_CODECS = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape",
                             "undefined"})
# Bounds on header fields before the stdlib parses them (see _bounded_field), in bytes.
FIELD_BYTES = 4_000
CONTENT_FIELD_BYTES = 1_000
_CONTENT_SPECIALS = ((b";", 16), (b'"', 24), (b"(", 4), (b"\\", 8))
_FIELD_NAME = re.compile(rb"[!-9;-~]+:")
_TOKEN_JUNK = re.compile(rb"[^A-Za-z0-9/!#$&^_.+-]")


def _codec(charset: str | None) -> str | None:
    """The Python codec for a declared charset; None when unknown, ASCII or unsafe.

    iso-8859-1 becomes windows-1252 (its superset in practice, as browsers read it). Codecs
    that interpret their input (punycode decodes in quadratic time, idna, the escape codecs)
    are refused: a charset label is the sender's to choose."""
    name = (charset or "").strip().strip("\"'").lower()
    try:
        codec = codecs.lookup(name).name if name else None
    except LookupError:
        return None
    if codec in _REFUSED_CODECS or codec in ("ascii", "utf-8"):
        return None
    return "cp1252" if codec == "iso8859-1" else codec


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Declared charset, then utf-8, then windows-1252, then latin-1: never raises.

    Bytes that are mostly valid utf-8 with a few broken sequences keep the utf-8 reading, with
    U+FFFD for the broken ones, rather than turning every accent into mojibake."""
    for codec in (_codec(charset), "utf-8"):
        if codec is None:
            continue
        try:
            return data.decode(codec)
        except (UnicodeError, LookupError, ValueError, TypeError):
            continue
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    if len(lenient) - len(lenient.encode("ascii", "ignore")) - bad > bad:
        return lenient
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def unsurrogate(text: str) -> str:
    """Header text whose 8-bit bytes arrived as surrogate escapes, decoded like a body."""
    if text.isascii() or not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    try:
        return decode_bytes(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # a surrogate that is no escaped byte
        return text.encode("utf-8", "replace").decode("utf-8")


def _bounded_field(lines: list[bytes]) -> list[bytes]:
    """One header field (first line + continuations) cut to what the stdlib parses quickly.

    Content-* fields are parsed for every part while the message is read; beyond the bounds
    (length, or more quotes, semicolons, parentheses, backslashes than any real one has) they
    keep only their media type and lose their parameters. Other fields are truncated."""
    value = b"".join(lines)
    if value[:8].lower() == b"content-":
        if len(value) > CONTENT_FIELD_BYTES or any(
                value.count(char) > most for char, most in _CONTENT_SPECIALS):
            name, _colon, rest = value.partition(b":")
            token = _TOKEN_JUNK.sub(b"", rest.split(b";")[0])[:100]
            return [name + b": " + token + (b"\r" if lines[-1].endswith(b"\r") else b"")]
        return lines
    kept, size = [], 0
    for line in lines:
        if size + len(line) > FIELD_BYTES:
            kept.append(line[:max(0, FIELD_BYTES - size)])
            break
        kept.append(line)
        size += len(line)
    return kept


def bounded_headers(raw: bytes) -> bytes:
    """The raw message with every header field, the top one's and each MIME part's (a header
    block after a line starting "--"), bounded by ``_bounded_field``. One linear pass."""
    out: list[bytes] = []
    field: list[bytes] = []
    in_header = True
    for number, line in enumerate(raw.split(b"\n")):
        if in_header and field and line[:1] in (b" ", b"\t"):
            field.append(line)
            continue
        if field:
            out.extend(_bounded_field(field))
            field = []
        if in_header and _FIELD_NAME.match(line):
            field = [line]
            continue
        if in_header and number == 0 and line.startswith(b"From "):
            out.append(line)  # an mbox "From " line
            continue
        out.append(line)
        in_header = line.startswith(b"--")
    if field:
        out.extend(_bounded_field(field))
    return b"\n".join(out)
