"""What the steering adapter reads: the email with the attacker's disguises taken off.

The rules (:mod:`handlers.guard`) search a folded copy of the text: lower case, no accents,
every look-alike letter turned Latin. That copy suits a pattern, not a model: a Russian or
Greek email would come out as Latin gibberish. The adapter reads this lighter copy instead,
still in the writer's case, accents and script, with only what disguises the text undone:

- compatibility forms (NFKC): mathematical bold and italic letters, full-width letters and
  spaces, circled letters and ligatures become the plain letters;
- Unicode tag characters ("ASCII smuggling") become the ASCII they encode; every other
  invisible format character (zero-width spaces and joiners, bidirectional controls, soft
  hyphens) and control character but tab and line breaks is dropped;
- regional indicator symbols (the halves of flag emoji) become the letters they stand for, and
  small capitals and other phonetic look-alikes of Latin letters the letter;
- a Cyrillic, Greek, Armenian or Hebrew look-alike inside a word that also has Latin letters
  becomes the Latin letter ("ignore" with a Cyrillic o in it); a word wholly in another script
  is left alone;
- letters spelled out one by one ("i g n o r e", "i.g.n.o.r.e") are joined, runs of spaces
  become one, and a word in random case ("IgNoRe", not "PayPal") is lower-cased;
- a pile of three or more combining marks ("zalgo") is dropped.

Measured on the dev data (docs/INJECTION.md, "What the adapter reads"): without it, the adapter
flagged the generator's disguised look-alikes far more often than the same look-alikes in
plain text. Every step is a translation table or a linear expression over at most
:data:`MAX_CHARS` characters: about 3 ms for the steering window of the worst text measured
(look-alike letters throughout), and the pipeline builds the steering requests off the event
loop.
"""

from __future__ import annotations

import re
import unicodedata

from handlers.guard import CONFUSABLES, FOLD_TABLE

MAX_CHARS = 8_000  # read at most this much; the adapter's window is far smaller


# What the rules' fold drops or decodes, less what it folds beyond disguise (combining marks,
# look-alike letters, "_"): format and control characters to nothing, tag characters to the
# ASCII they encode, regional indicators to their letters.
_INVISIBLE = {cp: value for cp, value in FOLD_TABLE.items()
              if 0xE0020 <= cp < 0xE007F or 0x1F1E6 <= cp < 0x1F200
              or (value is None and unicodedata.category(chr(cp)) in ("Cf", "Cc"))}
_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Letters no language writes words in: small capitals and phonetic forms of Latin letters.
_PHONETIC = {ord(c): letter for c, letter in CONFUSABLES.items()
             if 0x0250 <= ord(c) <= 0x02AF or 0x1D00 <= ord(c) <= 0x1D7F
             or 0xA720 <= ord(c) <= 0xA7FF}
# Letters of Greek, Cyrillic, Armenian and Hebrew that look Latin, in the look-alike's case.
_SCRIPT_LOOK_ALIKES = {ord(c): letter.upper() if c.isupper() else letter
                       for c, letter in CONFUSABLES.items() if 0x0370 <= ord(c) <= 0x05FF}
_LOOK_ALIKE_SET = frozenset(map(chr, _SCRIPT_LOOK_ALIKES))
_WORD = re.compile(r"\w+")
_LATIN_WORD = re.compile(r"[A-Za-z]{4,}")
# Three or more single letters joined by the same space or mark: each letter stands alone, so a
# failed run is never rescanned (linear).
_SPELLED = re.compile(r"(?<![^\W\d_])[^\W\d_]([ .\-_*\u00b7])[^\W\d_](?![^\W\d_])"
                      r"(?:\1[^\W\d_](?![^\W\d_]))+")
_SPACES = re.compile(r"[^\S\n]{2,}")
_CASE_HINT = re.compile(r"[a-z][A-Z]")
_CASE_CHANGE = re.compile(r"[a-z](?=[A-Z])|[A-Z](?=[a-z])")
_ZALGO = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]{3,}")


def _latin_look_alikes(match: re.Match[str]) -> str:
    """A word with a Latin letter and a look-alike of one from another script, in Latin."""
    word = match.group(0)
    if any("a" <= c.lower() <= "z" for c in word) and not _LOOK_ALIKE_SET.isdisjoint(word):
        return word.translate(_SCRIPT_LOOK_ALIKES)
    return word


def _random_case(match: re.Match[str]) -> str:
    """A word in random case ("IgNoRe", four case changes or more) lower-cased; "iPhone",
    "McDonald", "PayPal" and "HELLO" stay."""
    word = match.group(0)
    return word.lower() if len(_CASE_CHANGE.findall(word)) >= 4 else word


def unmask(text: str) -> str:
    """``text`` (its first :data:`MAX_CHARS` characters) with disguises undone (module
    docstring); plain text comes back unchanged but for runs of spaces."""
    text = text[:MAX_CHARS]
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).translate(_PHONETIC)
        if not _LOOK_ALIKE_SET.isdisjoint(text):
            text = _WORD.sub(_latin_look_alikes, text)
        text = _ZALGO.sub("", text)
    text = _ASCII_CONTROLS.sub("", text)
    text = _SPELLED.sub(lambda m: m.group(0).replace(m.group(1), ""), text)
    if _CASE_HINT.search(text):
        text = _LATIN_WORD.sub(_random_case, text)
    return _SPACES.sub(" ", text)
