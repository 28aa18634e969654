"""Brush-offs: a clause that dismisses or contradicts the customer.

The reply model learnt an apology with a clause after it ("Sorry about the trouble with your
kettle; that's not the quality we aim for.") and, being small, often keeps the shape and loses
the sense: "Sorry about the trouble with your iron; that's all we can say about it.", "...;
that's not the case with this purchase.", "...; that doesn't mean anything to us." Read by the
customer, each is a rude answer in the company's name. :func:`brush_offs` finds them;
:func:`cut_brush_offs` takes such a clause off its sentence, which keeps the apology before
it, or the whole sentence when the brush-off opens it.

"If that's not the case, let us know" is a question, not a brush-off: a clause after "if",
"unless", "whether" or "when" is left alone.

Pure and bounded: one regular expression without nested unbounded repetition, and a look at
the few characters before each match.
"""

from __future__ import annotations

import re

_BRUSH_OFF = re.compile(
    r"\b(?:that|this|it)(?:'s|\s+is|\s+was)\s+(?:"
    r"not\s+the\s+(?:case|issue|problem)\b"
    r"|not\s+the\s+(?:kind|sort|type)\s+of\s+(?:issue|problem|thing|fault)s?\s+(?:we|i)(?:'ve"
    r"|\s+have)?\s+(?:seen|heard\s+of|had)\b"
    r"|all\s+(?:we|i)\s+can\s+(?:say|do)\b"
    r"|not\s+(?:our|my)\s+(?:problem|concern|fault|responsibility)\b"
    r"|nothing\s+to\s+do\s+with\s+us\b"
    r"|already\s+been\s+(?:addressed|answered|dealt\s+with|sorted|handled)\b)"
    r"|\b(?:that|this|it)\s+(?:doesn't|does\s+not)\s+(?:mean|matter)\s+(?:anything|much|a\s+thing)"
    r"\s+to\s+us\b"
    r"|\bthere(?:'s|\s+is)\s+nothing\s+(?:more\s+)?(?:we|i)\s+can\s+(?:do|say)\b",
    re.IGNORECASE,
)
_CONDITION = re.compile(r"\b(?:if|unless|whether|when|in case)\s+$", re.IGNORECASE)
# The clause a brush-off opens: from the mark before it to the end of its sentence.
_CLAUSE_MARK = re.compile(r"\s*[;,:\u2013\u2014-]\s*$")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


def brush_offs(text: str) -> list[re.Match[str]]:
    """The brush-offs in ``text`` (see the module docstring), in order."""
    return [m for m in _BRUSH_OFF.finditer(text)
            if not _CONDITION.search(text[max(0, m.start() - 12):m.start()])]


def cut_brush_offs(text: str) -> str:
    """``text`` without its brush-offs: one after a mark (";", ",", a dash) is cut from the
    mark up to its sentence's end mark, which stays; one that opens its sentence, or follows
    no mark, takes the whole sentence with it."""
    parts: list[str] = []
    done = 0
    for match in brush_offs(text):
        if match.start() < done:
            continue  # in a sentence already cut
        end = _SENTENCE_END.search(text, match.end())
        stop = end.start() if end else len(text)
        head = text[done:match.start()]
        starts = [m.end() for m in _SENTENCE_END.finditer(head)]
        begin = starts[-1] if starts else 0  # where the brush-off's sentence starts in head
        lead = head[begin:]
        mark = _CLAUSE_MARK.search(lead)
        if mark and lead[:mark.start()].strip():
            parts.append(head[:begin] + lead[:mark.start()])
            done = stop
        else:
            parts.append(head[:begin])
            done = stop + 1 if end is not None and end.group(0) != "\n" else stop
    parts.append(text[done:])
    return "".join(parts)
