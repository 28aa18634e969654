"""HTML mail bodies as plain text, with the standard library's ``html.parser`` only.

``daemon.mail`` re-exports ``html_to_text``; it lives here to keep both modules short. The
parser is fed one piece at a time so that the stdlib parser's slow paths on malformed markup
(a "<" or "<!--" it cannot close makes it rescan the rest of the document at every later "<":
on CPython 3.11.7, 20,000 copies of "<a " took 25 s, 80,000 took 11 minutes) never see more
than one piece: linear overall.
"""

from __future__ import annotations

import functools
import re
from html.parser import HTMLParser

_SKIPPED = frozenset({"script", "style", "title", "template"})  # their contents are dropped
_HEAD_TAGS = frozenset({"meta", "link", "base", "title", "style", "script", "noscript"})
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr", "ul", "ol", "dl"})
_LINE = frozenset({"div", "li", "tr", "dt", "dd", "section", "article", "header", "footer", "nav",
                   "aside", "address", "figure", "figcaption", "form", "fieldset", "center",
                   "main", "caption", "details", "summary", "body", "html"})
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
# What the stdlib parser needs to end a comment or a marked section (<![CDATA[, <![if ...]>).
_COMMENT_END = re.compile(r"--\s*>")
_SECTION_NAME = re.compile(r"[a-zA-Z][-_.a-zA-Z0-9]*")
_SECTION_ENDS = {**dict.fromkeys(("temp", "cdata", "ignore", "include", "rcdata"),
                                 re.compile(r"]\s*]\s*>")),
                 **dict.fromkeys(("if", "else", "endif"), re.compile(r"]\s*>"))}


class _TextSink(HTMLParser):
    """Collects the visible text: block elements end lines, blockquotes get "> " marks."""

    def __init__(self, max_chars: int) -> None:
        super().__init__(convert_charrefs=True)
        self.max_chars, self.size = max_chars, 0
        self.lines: list[str] = []
        self._line: list[str] = []
        self._has_text = False
        self._line_quote = self._quote = self._skip = self._pre = 0
        self._head = False

    @property
    def full(self) -> bool:
        return self.size >= self.max_chars

    def flush(self) -> None:
        text = " ".join("".join(self._line).translate(_INVISIBLE).split())
        if text and self._line_quote:
            text = ">" * self._line_quote + " " + text
        self.lines.append(text)
        self.size += len(text) + 1
        self._line, self._has_text = [], False

    def _block(self) -> None:
        if self._has_text:
            self.flush()

    def _paragraph(self) -> None:
        self._block()
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def _text(self, text: str) -> None:
        if text and not self._has_text and not text.isspace():
            self._has_text, self._line_quote = True, self._quote
        self._line.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag == "head":
            self._head = True
        elif tag == "body":
            self._head, self._skip = False, 0  # an unclosed <title> ends here
        if tag in _SKIPPED or tag == "head":
            return
        if self._head and tag not in _HEAD_TAGS:
            self._head = False
        if tag == "br":
            self.flush()
        elif tag in ("blockquote", "pre"):
            self._paragraph()
            self._quote += tag == "blockquote"
            self._pre += tag == "pre"
        elif tag in _PARAGRAPH:
            self._paragraph()
        elif tag in _LINE:
            self._block()
            if tag == "li":
                self._line = ["- "]

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag == "head":
            self._head = False
        elif tag in ("blockquote", "pre"):
            self._paragraph()
            self._quote = max(0, self._quote - (tag == "blockquote"))
            self._pre = max(0, self._pre - (tag == "pre"))
        elif tag in _PARAGRAPH:
            self._paragraph()
        elif tag in _LINE:
            self._block()
        elif tag in ("td", "th"):
            self._line.append(" ")

    def handle_data(self, data: str) -> None:
        if self._skip or self.full:
            return
        if self._head:
            if data.isspace():
                return
            self._head = False  # text in <head>: the body began without its tag
        if not self._pre:
            self._text(data.replace("\r", " ").replace("\n", " "))
            return
        first, *rest = data.replace("\r\n", "\n").split("\n")
        self._text(first)
        for piece in rest:
            self.flush()
            self._text(piece)


class _Ends:
    """Forward searches over one text; one that failed from p fails from any later start."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.failed: dict[re.Pattern[str], int] = {}

    def after(self, pattern: re.Pattern[str], start: int) -> tuple[int, int]:
        """(start, end) of the first match at or after ``start``; (-1, -1) when none."""
        if start >= self.failed.get(pattern, len(self.text) + 1):
            return -1, -1
        match = pattern.search(self.text, start)
        if match is None:
            self.failed[pattern] = start
            return -1, -1
        return match.span()


def _unit(html: str, pos: int, ends: _Ends) -> tuple[int, bool]:
    """(end, escape) of the piece at ``pos``: text up to the next "<", or one markup construct.

    A construct the parser could only end by reading on to the end of the document (a comment
    or marked section without its closer, a stray "<") is escaped instead: the stdlib parser
    rescans such a construct at every later "<", quadratic or worse."""
    nxt = html.find("<", pos + 1)
    nxt = len(html) if nxt < 0 else nxt
    if html[pos] != "<":
        return nxt, False
    if html.startswith("<!--", pos):
        end = ends.after(_COMMENT_END, pos + 4)[1]
        return (end, False) if end > 0 else (nxt, True)
    if html.startswith("<![", pos):
        name = _SECTION_NAME.match(html, pos + 3)
        closer = _SECTION_ENDS.get(name.group().lower()) if name else None
        end = ends.after(closer, pos + 3)[1] if closer else -1
        return (end, False) if end > 0 and name and name.end() < len(html) else (nxt, True)
    follower = html[pos + 1:pos + 2]
    return nxt, not (follower.isascii() and (follower.isalpha() or follower in "/!?"))


@functools.lru_cache(maxsize=16)
def _close_pattern(element: str) -> re.Pattern[str]:
    return re.compile(rf"</\s*{re.escape(element)}\s*>", re.IGNORECASE)


def _leave_raw_text(html: str, pos: int, sink: _TextSink, ends: _Ends) -> int:
    """After <script>/<style>: feed up to its end tag (the rest of the document if none)."""
    element = sink.cdata_elem or ""
    end = ends.after(_close_pattern(element), pos)[1]
    if end > 0:
        sink.feed(html[pos:end])
    if sink.cdata_elem:  # no end tag, or a parser that saw none: drop what is held
        sink.rawdata = ""
        sink.clear_cdata_mode()
        sink.handle_endtag(element)
    return end if end > 0 else len(html)


def html_to_text(html: str, max_chars: int = 200_000) -> str:
    """The visible text of an HTML document: one line per block, at most one blank line in a
    row, entities unescaped, script/style/head dropped, blockquote lines marked "> ".

    Uses the stdlib HTMLParser, fed one piece at a time (text up to the next "<", or one
    whole comment / marked section) so that it never holds more than one piece: linear."""
    sink, ends, pos = _TextSink(max_chars), _Ends(html), 0
    while pos < len(html) and not sink.full:
        end, escape = _unit(html, pos, ends)
        try:
            sink.feed("&lt;" + html[pos + 1:end] if escape else html[pos:end])
        except AssertionError:  # the parser's own "should not happen" on odd markup
            sink.rawdata = ""
        if sink.cdata_elem:
            end = _leave_raw_text(html, end, sink, ends)
        elif sink.rawdata.startswith("<"):  # an incomplete tag: its "<" was text after all
            held, sink.rawdata = sink.rawdata, ""
            sink.feed("&lt;" + held[1:])
        pos = end
    try:
        sink.close()
    except AssertionError:
        pass
    sink.flush()
    lines: list[str] = []
    for line in sink.lines:
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip()[:max_chars].rstrip()
