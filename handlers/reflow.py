"""Hard-wrapped mail as the model reads it: each paragraph on one line.

Plain-text mail clients wrap at 72 to 78 characters (RFC 5322 recommends 78), so most real
mail reaches replyd with a line break every dozen words, mid-sentence. The adapters are
trained on the synthetic generator's mail, whose paragraphs are single lines, and a 135M model
reads a sentence broken over three lines worse than one it has seen whole. :func:`unwrap`
joins the lines of a paragraph that a client wrapped, and leaves everything else as it is:
blank lines, list items, short lines (a greeting, a sign-off, a signature) and text whose
lines are longer than any client wraps (written as one line a paragraph, as the generator's).

Linear and bounded: one pass over the lines, no regular expression with nested repetition.
The draft checks compare against the email as received, not this text.
"""

from __future__ import annotations

import re

# The widest wrap a client applies (RFC 5322's 78, with a little room for trailing spaces and
# quoting); a text with a longer line was not wrapped by its client.
MAX_WRAP_WIDTH = 100
# Fewer lines this wide than MIN_WRAPPED_LINES: nothing to unwrap.
MIN_WRAP_WIDTH = 55
MIN_WRAPPED_LINES = 2
# A wrapped line ends within this many characters of the text's widest line: a client breaks
# before the word that does not fit, and words are rarely longer.
WRAP_SLACK = 20
# A line that starts a list item, a quote or an indented block keeps its own line.
_ITEM = re.compile(r"\s*(?:[-*+\u2022\u2023\u25aa\u25cf\u2013>|]|\d{1,3}[.)]\s|[a-zA-Z][.)]\s)")


def unwrap(text: str) -> str:
    """``text`` with the lines of each hard-wrapped paragraph joined by a space; ``text``
    itself when its lines do not look wrapped by a client."""
    lines = text.split("\n")
    widths = [len(line.rstrip()) for line in lines]
    widest = max(widths, default=0)
    if widest > MAX_WRAP_WIDTH or sum(w >= MIN_WRAP_WIDTH for w in widths) < MIN_WRAPPED_LINES:
        return text
    cut = max(MIN_WRAP_WIDTH - WRAP_SLACK, widest - WRAP_SLACK)
    out: list[str] = []
    previous = 0  # width of the last line read (not of the joined line it ended)
    for line, width in zip(lines, widths, strict=True):
        if out and previous >= cut and line.strip() and not _ITEM.match(line):
            out[-1] = f"{out[-1].rstrip()} {line.strip()}"
        else:
            out.append(line)
        previous = width
    return "\n".join(out)
