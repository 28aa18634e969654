"""The newly written text of an email, apart from the quoted thread and the signature.

Line-based and linear: every line is looked at a bounded number of times, and the few patterns
are anchored, compiled once and have bounded gaps (no nested unbounded repetition).

What counts as quoted history: lines starting with ">" (interleaved replies keep their own
lines as new text); an attribution ("On ... wrote:", "Am ... schrieb ...:", "Le ... a écrit :",
"El ... escribió:", also split over two lines) followed by ">" lines, or by unmarked text, in
which case everything below it is quoted; Outlook/Gmail/Apple blocks ("-----Original
Message-----", "---------- Forwarded message ---------", "Begin forwarded message:", a
"From:/Sent:/To:/Subject:" header block, an underscore line followed by "From:") and
everything below them.

What counts as signature: from a "-- " (or "--") line, a mobile client line ("Sent from my
iPhone", "Get Outlook for iOS"), a mailing-list footer (underscore line followed by list words,
"To unsubscribe" with an address or link, "You received this message because you are
subscribed") or a legal disclaimer paragraph, down to the quoted part. Except for the mobile
lines, a marker only counts once there is new text above it, so a message is never all
signature.

Fallback: when nothing new is left (a bare forward), ``new_text`` is the first 2,000
characters of the quoted part with its ">" marks and leading forward headers removed, so there
is always something to answer. ``quoted`` keeps its ">" marks; nothing is dropped but
whitespace: new_text, quoted and signature together hold every line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FALLBACK_CHARS = 2_000
MAX_ATTRIBUTION_CHARS = 500
# (how the line starts, how it ends before the colon, a word it must hold), lower-case.
_ATTRIBUTIONS = (
    ("on ", "wrote", ""),  # English (Gmail, Apple Mail, Thunderbird)
    ("am ", "", " schrieb"),  # German: "Am 05.01.2026 um 10:00 schrieb Dana Ross <d@x>:"
    ("", "", " schrieb am "),  # German Outlook: "Dana Ross <d@x> schrieb am 05.01.2026 10:00:"
    ("le ", "a écrit", ""),  # French
    ("el ", "escribió", ""),  # Spanish
    ("op ", "", " schreef"),  # Dutch
    ("il ", "ha scritto", ""),  # Italian
)
_MARKER_WORDS = frozenset({
    "original message", "forwarded message", "ursprüngliche nachricht", "weitergeleitete nachricht",
    "message d'origine", "message transféré", "mensaje original", "mensaje reenviado",
})
_FORWARD_LINES = frozenset({"begin forwarded message:", "anfang der weitergeleiteten nachricht:",
                            "début du message réexpédié :", "début du message réexpédié:"})
_FROM = ("from:", "von:", "de:", "van:", "da:", "från:")
_SENT = ("sent:", "date:", "gesendet:", "datum:", "envoyé :", "envoyé:", "enviado:", "fecha:",
         "data:", "inviato:")
_TO_OR_SUBJECT = ("to:", "subject:", "an:", "betreff:", "à :", "à:", "objet :", "objet:",
                  "para:", "asunto:", "oggetto:", "cc:")
_HEADER_FIELDS = _FROM + _SENT + _TO_OR_SUBJECT
# A whole short line: "Sent from my iPhone", "Get Outlook for iOS", "Von meinem iPhone gesendet".
_MOBILE = re.compile(
    r"(?:sent from|get outlook for|von meinem|envoyé de mon|enviado desde mi)"
    r"\s[\w .'\u2019-]{1,40}",
    re.IGNORECASE,
)
_LIST_WORDS = ("mailing list", "unsubscribe", "listinfo", "mailman", "list info", "google groups")
# "To unsubscribe" counts only with an address or link on the line: customers write it too.
_FOOTER_STARTS = ("to unsubscribe", "you received this message because you are subscribed")
_LEGAL = re.compile(
    r"(?:this\s+e-?mail\b|this\s+message\b|this\s+communication\b|the information (?:contained )?"
    r"in this\s+(?:e-?mail|message)\b).{0,160}?\bconfidential"
    r"|confidentiality notice\b|disclaimer\s*:|(?-i:DISCLAIMER)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ThreadParts:
    new_text: str  # what the sender wrote now (stripped)
    quoted: str  # the quoted history / forwarded chain below or around it ("" if none)
    signature: str  # signature and legal/list footers removed from new_text ("" if none)
    fallback: bool = False  # nothing new was written: new_text is the start of the quoted part


def _plain(line: str) -> str:
    """The line without surrounding whitespace and Outlook's bold stars ("*From:* ...")."""
    return line.strip().replace("*", "") if "*" in line[:4] else line.strip()


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _is_rule(line: str, char: str, least: int) -> bool:
    text = line.strip()
    return len(text) >= least and text.count(char) == len(text)


def _next_filled(lines: list[str], start: int, limit: int = 3) -> int:
    """Index of the first non-blank line at or after ``start`` (within ``limit``), else -1."""
    for j in range(start, min(len(lines), start + limit)):
        if lines[j].strip():
            return j
    return -1


def _is_block_marker(line: str) -> bool:
    text = _plain(line).lower()
    if text in _FORWARD_LINES:
        return True
    if text.startswith("--") and text.endswith("--") and len(text) <= 80:
        return text.strip("- ").lower() in _MARKER_WORDS
    return False


def _is_header_block(lines: list[str], i: int) -> bool:
    """A "From:" line followed, within five lines, by a date line and a to/subject line."""
    if not _plain(lines[i]).lower().startswith(_FROM):
        return False
    window = [_plain(line).lower() for line in lines[i + 1:i + 6]]
    return any(w.startswith(_SENT) for w in window) and any(
        w.startswith(_TO_OR_SUBJECT) for w in window)


def _is_attribution(text: str) -> bool:
    """ "On <date>, <name> wrote:" and its translations; needs a digit (the date)."""
    lower = text.strip().lower().replace("\xa0", " ")
    if not lower.endswith(":") or len(lower) > MAX_ATTRIBUTION_CHARS:
        return False
    if not any(c.isdigit() for c in lower):
        return False
    core = lower[:-1].rstrip()
    return any(core.startswith(start) and core.endswith(end) and word in core
               for start, end, word in _ATTRIBUTIONS)


def _attribution_span(lines: list[str], i: int) -> int:
    """1 or 2 when an attribution starts at line ``i`` (two when wrapped), else 0."""
    if _is_attribution(lines[i]):
        return 1
    if i + 1 < len(lines) and lines[i].strip() and lines[i + 1].rstrip().endswith(":") \
            and _is_attribution(f"{lines[i].strip()} {lines[i + 1].strip()}"):
        return 2
    return 0


def _quote_start(lines: list[str], i: int) -> str:
    """"rest" when everything from line i down is quoted history; "attribution" (one line) or
    "attribution2" (two) when line i introduces a quote; "" otherwise."""
    line = lines[i]
    if _is_block_marker(line) or _is_header_block(lines, i):
        return "rest"
    if _is_rule(line, "_", 5):
        j = _next_filled(lines, i + 1)
        if j >= 0 and _plain(lines[j]).lower().startswith(_FROM):
            return "rest"
    span = _attribution_span(lines, i)
    return "" if span == 0 else "attribution" if span == 1 else "attribution2"


def _signature_start(lines: list[str], i: int, has_new: bool) -> bool:
    line = lines[i]
    text = line.strip()
    if len(text) <= 60 and _MOBILE.fullmatch(text):
        return True
    if not has_new:
        return False
    lower = text.lower()
    if line.rstrip() in ("--", "-- ") or lower.startswith(_FOOTER_STARTS[1]) or (
            lower.startswith(_FOOTER_STARTS[0]) and ("@" in lower or "http" in lower)):
        return True
    if _is_rule(line, "_", 5):
        j = _next_filled(lines, i + 1)
        return j >= 0 and any(word in lines[j].lower() for word in _LIST_WORDS)
    paragraph_start = i == 0 or not lines[i - 1].strip()
    return paragraph_start and bool(_LEGAL.match(text))


def _tidy(lines: list[str]) -> str:
    """Lines joined, trailing spaces dropped, at most one blank line in a row, stripped."""
    out: list[str] = []
    for line in lines:
        line = line.rstrip()
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _unquote(line: str) -> str:
    text = line.lstrip()
    while text.startswith(">"):
        text = text[1:].lstrip(" ") if text[1:2] in (" ", ">", "") else text[1:]
    return text


def _fallback(quoted_lines: list[str]) -> str:
    """The start of the quoted part as new text: marks removed, leading forward headers skipped."""
    plain = [_unquote(line) for line in quoted_lines]
    start = 0
    while start < len(plain) and (not plain[start].strip() or _is_block_marker(plain[start])
                                  or _plain(plain[start]).lower().startswith(_HEADER_FIELDS)
                                  or _attribution_span(plain, start) == 1):
        start += 1
    text = _tidy(plain[start:]) or _tidy(plain)
    return text[:FALLBACK_CHARS].strip()


def split_thread(body: str, max_chars: int = 100_000) -> ThreadParts:
    """Split an email body into new text, quoted history and signature (see the module doc)."""
    text = body[:max_chars].replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    new: list[str] = []
    quoted: list[str] = []
    signature: list[str] = []
    in_signature = has_new = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_quoted(line):
            quoted.append(line)
            i += 1
            continue
        kind = _quote_start(lines, i)
        if kind.startswith("attribution"):
            span = 2 if kind == "attribution2" else 1
            j = _next_filled(lines, i + span)
            if j >= 0 and _is_quoted(lines[j]):  # "On ... wrote:" then "> ..." lines
                quoted.extend(lines[i:i + span])
                i += span
                continue
            kind = "rest"
        if kind == "rest":
            quoted.extend(lines[i:])
            break
        in_signature = in_signature or _signature_start(lines, i, has_new)
        if in_signature:
            signature.append(line)
        else:
            new.append(line)
            has_new = has_new or bool(line.strip())
        i += 1
    new_text = _tidy(new)
    quoted_text = _tidy(quoted)
    fallback = not new_text and bool(quoted_text)
    if fallback:
        new_text = _fallback(quoted)
    return ThreadParts(new_text=new_text, quoted=quoted_text, signature=_tidy(signature),
                       fallback=fallback)
