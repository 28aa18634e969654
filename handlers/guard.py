"""Flags emails that try to steer the model. Such drafts get ``needs_review``; they still go out
as drafts (replyd never sends mail), so a person looks before anything reaches the customer.

The text is first folded to a canonical form, so that obfuscation does not hide an attack:

* only the first :data:`MAX_SCAN_CHARS` characters are read (the pipeline passes the subject and
  the part of the body the model sees);
* Unicode compatibility folding (NFKD: fullwidth, mathematical and circled letters, ligatures and
  odd spaces become plain ones) and the accents it splits off are dropped ("ïgnörë");
* invisible characters go: zero-width and format characters (category Cf: ZWSP, ZWJ, word
  joiner, BOM, soft hyphen, bidi controls), control characters, combining marks, variation
  selectors and blank "letters" (Hangul fillers, braille blank); Unicode tag characters, which
  some models read as ASCII ("ASCII smuggling"), become the ASCII they encode, and regional
  indicator symbols (the halves of flag emoji) the letters they stand for;
* Cyrillic, Greek and small-capital look-alikes of Latin letters become the Latin letter;
* case is folded; inside a word mixing letters and digits, leetspeak digits become letters
  ("1gn0re"); one punctuation mark between two letters goes ("i.g.n.o.r.e", "dan's");
* every run of whitespace becomes one space, or one newline if it held a line break.

The rules (:mod:`handlers.guard_rules`) are then searched in the folded text, in a second view
where letters spaced out one by one are joined, and a few unmistakable phrases also in the
letters alone ("ignoreallpreviousinstructions"). Each rule needs an instruction-like object
(instructions, rules, the system prompt), an AI-directed target or a role marker, never a verb
alone, so "please ignore my previous email" passes. A rule runs only when the text holds the
words of its gate (a set lookup), so most mail runs few of them. Two counting rules catch what
names no rule to break: jailbreak vocabulary packed into a window (:data:`SIGNALS`) and several
kinds of role-play cue close together (:mod:`handlers.guard_roleplay`). Prompt templates,
format orders and notes planted for machines are in :mod:`handlers.guard_templates`; orders for
writing no support reply holds, and recipes for weapons and drugs, in
:mod:`handlers.guard_offtask`. A text with
many words broken by hyphens ("i-nstruction") is also read with those hyphens dropped.

Everything is linear in the (bounded) text: translate tables and fixed regular expressions whose
gaps are all bounded (``[^.!?]{0,120}?``, never ``.*``: a ``.*`` once made "act as a " x 12,000
hold the event loop for seconds). docs/INJECTION.md has the evaluation and the timings.
"""

from __future__ import annotations

import re
import unicodedata

from handlers.guard_offtask import OFFTASK_FAMILIES
from handlers.guard_roleplay import (
    CUE_KEY_KINDS,
    CUE_MARKS,
    CUE_MIN_KINDS,
    CUE_WINDOW,
    CUE_WORDS,
    CUES,
    ROLEPLAY_FAMILIES,
)
from handlers.guard_rules import (
    FAMILIES,
    SIGNAL_MIN_FAMILIES,
    SIGNAL_MIN_TERMS,
    SIGNAL_WINDOW,
    SIGNALS,
    SQUASHED_PARTS,
)
from handlers.guard_templates import TEMPLATE_FAMILIES

MAX_SCAN_CHARS = 20_000

# Separator between two words of a rule: whitespace or a little punctuation, never a sentence
# end. Written as a plain space in handlers.guard_rules and swapped in by _phrase().
_SEP = r"[^\w.!?]{1,3}"


def _phrase(pattern: str) -> str:
    return pattern.replace(" ?", r"[^\w.!?]{0,3}").replace(" ", _SEP)


# Phrases searched in the letters alone; each part runs only on letters holding one of its words.
_SQUASHED = re.compile("|".join(pattern for _, pattern in SQUASHED_PARTS))
_SQUASHED_GATED = tuple((words, re.compile(pattern)) for words, pattern in SQUASHED_PARTS)


_TOKEN = re.compile(r"[a-z0-9]+")
_LEADING_WORD = re.compile(r"\\b([a-z]+)(?![a-z?*+{])")


def _alternation(patterns: list[str]) -> str:
    """Patterns as one expression. A pattern that starts with ``\\bword`` is rewritten to
    ``word(?<!\\wword)`` (the same match): an expression whose every branch starts with a
    letter lets the engine skip in C to the positions holding one of those letters."""
    rewritten = []
    for pattern in map(_phrase, patterns):
        lead = _LEADING_WORD.match(pattern)
        if lead:
            word = lead.group(1)
            pattern = rf"{word}(?<!\w{word}){pattern[lead.end():]}"
        rewritten.append(pattern)
    return "|".join(rewritten)


_Gate = tuple[frozenset[str], ...]


def _gated(families: dict[str, list[tuple[str, tuple[str, ...]]]]
           ) -> list[tuple[_Gate, re.Pattern[str]]]:
    """One expression per distinct gate, holding every rule with that gate."""
    by_gate: dict[_Gate, list[str]] = {}
    for rules in families.values():
        for pattern, gate in rules:
            key = tuple(frozenset(words.split()) for words in gate)
            by_gate.setdefault(key, []).append(pattern)
    return [(gate, re.compile(_alternation(patterns), re.MULTILINE))
            for gate, patterns in by_gate.items()]


# The co-occurrence rule's terms, one named group per family; a match's text is its term.
_SIGNAL = re.compile("|".join(
    rf"\b(?P<{family}>{_phrase(terms)})\b" for family, terms in SIGNALS.items()))
# The words of each family's terms: a family can match only where all words of a term are in the
# text, which a set lookup tells, so most mail skips the rule.
_SIGNAL_WORDS = {family: tuple(frozenset(term.split()) for term in terms.split("|"))
                 for family, terms in SIGNALS.items() if family != "command"}

# The role-play cues (handlers.guard_roleplay), one named group per kind.
_CUE = re.compile("|".join(rf"(?P<{kind}>{_phrase(cues)})" for kind, cues in CUES.items()),
                  re.MULTILINE)

_FAMILIES = {**FAMILIES, **ROLEPLAY_FAMILIES, **TEMPLATE_FAMILIES, **OFFTASK_FAMILIES}
_RULES = [pattern for rules in _FAMILIES.values() for pattern, _ in rules]
# Every rule in one expression. The guard searches _GATED; this one is for callers that search
# raw text (IGNORECASE stands in for the case folding), as the tests do.
_STEERING = re.compile(_alternation(_RULES), re.IGNORECASE | re.MULTILINE)
_GATED = _gated(_FAMILIES)
_MARKS = ("<", "[", "##")
# Each word of a rule's first gate string, to the rules it opens: a text's words pick the few
# rules worth searching without testing every gate.
_BY_WORD: dict[str, list[int]] = {}
for _index, (_gate, _rule) in enumerate(_GATED):
    for _word in _gate[0]:
        _BY_WORD.setdefault(_word, []).append(_index)
del _index, _gate, _rule, _word


def _table() -> dict[int, str | None]:
    """What the fold translates: invisible characters to nothing, tag characters to the ASCII
    they encode, look-alikes of Latin letters to the letter."""
    table: dict[int, str | None] = dict.fromkeys(_invisible_code_points())
    table.update({cp: chr(cp - 0xE0000) for cp in range(0xE0020, 0xE007F)})
    # Regional indicator symbols (the letters of flag emoji) spell words: "\U0001F1ED\U0001F1F4"
    # reads "ho" to a model.
    table.update({0x1F1E6 + i: chr(ord("a") + i) for i in range(26)})
    table.update({ord(k): v for k, v in CONFUSABLES.items()})
    for kept in "\t\n\r\x0b\x0c":
        table.pop(ord(kept), None)
    table[ord("_")] = "-"
    return table


def _invisible_code_points() -> list[int]:
    ranges = (range(0x30000), range(0xE0000, 0xE1000))
    dropped = {"Cf", "Cc", "Mn", "Me"}
    found = [cp for r in ranges for cp in r if unicodedata.category(chr(cp)) in dropped]
    return [*found, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800]  # blank "letters"


# Look-alikes by code point (readable source): Cyrillic, Greek, IPA and small capitals.
_CONFUSABLE_POINTS: dict[str, tuple[int, ...]] = {
    "a": (0x0430, 0x03B1, 0x0251, 0x1D00, 0x0410, 0x0391),
    "b": (0x0432, 0x03B2, 0x0299, 0x0412, 0x0392, 0x042C, 0x044C),
    "c": (0x0441, 0x03F2, 0x1D04, 0x0421, 0x03F9),
    "d": (0x0501, 0x1D05, 0x0500),
    "e": (0x0435, 0x0451, 0x03B5, 0x1D07, 0x0415, 0x0401, 0x0395, 0x0454, 0x0404),
    "f": (0xA730, 0x0192),
    "g": (0x0261, 0x0262, 0x0581),
    "h": (0x04BB, 0x043D, 0x029C, 0x041D, 0x0397, 0x04BA),
    "i": (0x0456, 0x0457, 0x03B9, 0x0131, 0x026A, 0x0269, 0x0406, 0x0407, 0x0399, 0x04C0),
    "j": (0x0458, 0x1D0A, 0x0408, 0x037F, 0x03F3),
    "k": (0x043A, 0x03BA, 0x1D0B, 0x041A, 0x039A),
    "l": (0x04CF, 0x029F),
    "m": (0x043C, 0x1D0D, 0x041C, 0x039C),
    "n": (0x0274, 0x039D, 0x03B7, 0x043F),
    "o": (0x043E, 0x03BF, 0x1D0F, 0x041E, 0x039F, 0x03C3, 0x0585, 0x05E1),
    "p": (0x0440, 0x03C1, 0x1D18, 0x0420, 0x03A1),
    "q": (0x051B, 0x051A),
    "r": (0x0280, 0x0433, 0x1D26),
    "s": (0x0455, 0xA731, 0x0405),
    "t": (0x0442, 0x03C4, 0x1D1B, 0x0422, 0x03A4),
    "u": (0x03C5, 0x1D1C, 0x057D, 0x03BC),
    "v": (0x03BD, 0x1D20, 0x0475, 0x0474),
    "w": (0x051D, 0x1D21, 0x0461, 0x03C9, 0x051C),
    "x": (0x0445, 0x03C7, 0x0425, 0x03A7),
    "y": (0x0443, 0x04AF, 0x028F, 0x03B3, 0x0423, 0x04AE, 0x03A5),
    "z": (0x1D22, 0x0396),
}
CONFUSABLES: dict[str, str] = {
    chr(cp): letter for letter, points in _CONFUSABLE_POINTS.items() for cp in points
}
# Digits and signs read as letters, only inside a word that also has a letter ("1gn0re"), and
# not in a variable name ("$term1 = ..."), which the role-play cues read as a split request.
_LEET = str.maketrans("013457@$", "oieastas")
_LEET_WORD = re.compile(r"(?<![a-z0-9@$])(?!\$[a-z]{1,20}[0-9]{1,3}(?![a-z0-9@$]))"
                        r"(?=[a-z0-9@$]*[a-z])(?=[a-z0-9@$]*[0-9@$])[a-z0-9@$]+")
_MARK = r"[.\-*`|~^+/\\\u00b7\u2010-\u2015\u2022]"
# Each expression starts with a character class, so the engine skips ahead in C to where one
# could start (a leading look-behind would make it try every position).
_APOSTROPHE = re.compile(r"['\u2018\u2019](?<=[a-z].)(?=[a-z])")
# Single letters joined by a mark or a single space: "i.g.n.o.r.e", "i g n o r e". Each letter
# must stand alone, so a failed run is never rescanned (the pattern stays linear).
_DOTTED = re.compile(rf"(?<![a-z0-9])[a-z0-9](?:{_MARK}[a-z0-9](?![a-z0-9])){{2,}}")
_SPACED = re.compile(r"(?<![a-z0-9])[a-z0-9](?: [a-z0-9](?![a-z0-9])){2,}")
# What any run of _DOTTED or _SPACED holds: searched first, it spares most mail the full scan.
_DOTTED_HINT = re.compile(rf"{_MARK}[a-z0-9]{_MARK}[a-z0-9](?![a-z0-9])")
_SPACED_HINT = re.compile(r" [a-z0-9] [a-z0-9](?![a-z0-9])")
_LEET_HINT = re.compile(r"[0-9@$](?:(?<=[a-z].)|(?=[a-z]))")
_INNER_MARK = re.compile(rf"{_MARK}(?<=[a-z]{_MARK})(?=[a-z])")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
# A hyphen or underscore ("_" is folded to "-") inside a word: a text with _MIN_HYPHENS of them in
# its first _HYPHEN_SPAN characters is also read with them dropped.
_HYPHENS = re.compile(r"([a-z])-+(?=[a-z])")
_MIN_HYPHENS = 4
_HYPHEN_SPAN = 6_000
_SINGLE_SPACE = re.compile(r"(?<=\S) (?=\S)")
# Whitespace that is not already one space or one line break.
_SPACES = re.compile(r"[^\S\n]{2,}|[^\S \n]")
_BREAKS = re.compile(r" \n\s*|\n\s+")
_ODD_SPACES = ("  ", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85")
_NOT_LETTER = re.compile(r"[^a-z]+")
_ASCII_NON_LETTERS = dict.fromkeys(i for i in range(128) if not chr(i).islower())
_ASCII = {**dict.fromkeys([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F]), ord("_"): "-"}


FOLD_TABLE = _table()  # ~15 ms, paid at import rather than on the first foreign email


def _fold(text: str) -> str:
    """Everything of the canonical form but the merging of spaced letters and of whitespace."""
    return _INNER_MARK.sub(" ", _fold_marks(text))


def _fold_marks(text: str) -> str:
    """:func:`_fold` but for the marks inside words, which are kept ("i-nstruction")."""
    text = text[:MAX_SCAN_CHARS]
    if text.isascii():
        text = text.translate(_ASCII).lower()
    else:
        text = unicodedata.normalize("NFKD", text)[:MAX_SCAN_CHARS * 2]
        text = text.translate(FOLD_TABLE).casefold()
        # Folding may reveal new compatibility forms (a decoded tag, "ß" to "ss"): once more.
        if not text.isascii():
            text = unicodedata.normalize("NFKD", text).translate(FOLD_TABLE)
    text = _APOSTROPHE.sub("", text)
    if _DOTTED_HINT.search(text):
        text = _DOTTED.sub(lambda m: _NOT_ALNUM.sub("", m.group(0)), text)
    return text


def _finish(text: str, spaced: bool) -> str:
    if spaced:
        text = _SPACED.sub(lambda m: m.group(0).replace(" ", ""), text)
    if _LEET_HINT.search(text):
        text = _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), text)
    if not text.isascii() or any(odd in text for odd in _ODD_SPACES):
        text = _SPACES.sub(" ", text)
    return _BREAKS.sub("\n", text)


def normalise(text: str) -> str:
    """The canonical form the patterns are searched in (see the module docstring)."""
    folded = _fold(text)
    return _finish(folded, _SPACED_HINT.search(folded) is not None)


def looks_like_steering(text: str) -> bool:
    """True when the text contains a known prompt-injection pattern, obfuscated or not."""
    marked = _fold_marks(text)
    folded = _INNER_MARK.sub(" ", marked)
    spaced = _SPACED_HINT.search(folded) is not None
    views = [_finish(folded, spaced)]
    if len(_HYPHENS.findall(marked, 0, _HYPHEN_SPAN)) >= _MIN_HYPHENS:
        # Words broken by hyphens or underscores ("i-nstruction", "limit_ations"): a third view
        # with those marks dropped, only for text with many of them ("end-of-email" is one word
        # read as three in the first view, and glued here).
        views.append(_finish(_HYPHENS.sub(r"\1", marked), spaced))
    if spaced and _SPACED.search(folded):
        # Letters spaced out one by one ("i n   y o u r"): single spaces join letters, wider
        # gaps part words. Only for a text that has such a run, since it glues normal words.
        views.append(_finish(_SINGLE_SPACE.sub("", folded), False))
    if (any(_matches(view) for view in views) or _many_signals(views[0])
            or _many_cues(views[0])):
        return True
    squashed = (views[0].translate(_ASCII_NON_LETTERS) if views[0].isascii()
                else _NOT_LETTER.sub("", views[0]))
    return any(any(word in squashed for word in words) and rule.search(squashed)
               for words, rule in _SQUASHED_GATED)


def _matches(view: str) -> bool:
    words = set(_TOKEN.findall(view))
    words.update(mark for mark in _MARKS if mark in view)
    candidates: set[int] = set()
    for word in words.intersection(_BY_WORD):
        candidates.update(_BY_WORD[word])
    for index in sorted(candidates):  # in rule order, so the cheap common case stays cheap
        gate, rule = _GATED[index]
        if all(not words.isdisjoint(part) for part in gate[1:]) and rule.search(view):
            return True
    return False


def _many_signals(view: str) -> bool:
    """Whether some window of SIGNAL_WINDOW characters holds SIGNAL_MIN_TERMS distinct jailbreak
    terms from SIGNAL_MIN_FAMILIES families (besides "command"): one pass over the matches,
    with the window's term counts kept up to date as it slides."""
    words = set(_TOKEN.findall(view))
    if sum(any(term <= words for term in terms) for terms in _SIGNAL_WORDS.values()) < (
            SIGNAL_MIN_FAMILIES):
        return False
    hits = [(m.start(), m.lastgroup or "", m.group(0)) for m in _SIGNAL.finditer(view)]
    if len(hits) < SIGNAL_MIN_TERMS:
        return False
    counts: dict[tuple[str, str], int] = {}
    families: dict[str, int] = {}
    first = 0
    for start, family, term in hits:
        while hits[first][0] < start - SIGNAL_WINDOW:
            _, old_family, old_term = hits[first]
            counts[(old_family, old_term)] -= 1
            if not counts[(old_family, old_term)]:
                del counts[(old_family, old_term)]
                families[old_family] -= 1
            first += 1
        key = (family, term)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] == 1:
            families[family] = families.get(family, 0) + 1
        if len(counts) >= SIGNAL_MIN_TERMS and sum(
                n > 0 for name, n in families.items() if name != "command") >= (
                SIGNAL_MIN_FAMILIES):
            return True
    return False


def _many_cues(view: str) -> bool:
    """Whether some window of CUE_WINDOW characters holds CUE_MIN_KINDS kinds of role-play cue,
    one of them a key kind (handlers.guard_roleplay): one pass over the matches, keeping each
    kind's last position (at most eight kinds, so each step is constant work)."""
    words = set(_TOKEN.findall(view))
    open_kinds = {kind for kind, needed in CUE_WORDS.items() if not words.isdisjoint(needed)
                  or any(mark in view for mark in CUE_MARKS.get(kind, ()))}
    if len(open_kinds) < CUE_MIN_KINDS or CUE_KEY_KINDS.isdisjoint(open_kinds):
        return False
    last: dict[str, int] = {}
    for match in _CUE.finditer(view):
        start = match.start()
        last[match.lastgroup or ""] = start
        if len(last) < CUE_MIN_KINDS:
            continue
        near = [kind for kind, seen in last.items() if start - seen <= CUE_WINDOW]
        if len(near) >= CUE_MIN_KINDS and not CUE_KEY_KINDS.isdisjoint(near):
            return True
    return False
