"""Invented notes: "We've noted that ..." about something the customer never said.

The generator's replies note two things and nothing else: the other products a customer
mentions ("We've noted the Piccolo espresso machine too, in case that matters.",
:data:`models.synth.reply_lists.REPLY_EXTRAS`) and, in one answer, a cancellation at the end
of the billing period. The reply adapter learned the frame, not what goes in it: on mail unlike
the generator's it fills "We've noted that ..." with whatever comes next, fluently and wrong
("We've noted that the parcel is still within reach." to a refund three weeks late, "We've
also made a note of the return center's operations.", "We've noted that you'd like it to be
canceled for once."). A reader takes each for a summary of their own email.

:func:`invented_notes` finds each sentence of a draft that says it noted something, unless it
is one of those two: a product list every word of which is in the email (or a near miss of a
word of it: a typo), or the billing-period answer, which :mod:`handlers.checks_answer` judges;
or a note of "your feedback", "your request" or the like, true of any email.
A note of a clause ("noted that ...", "a note of how ...") is never a product list. On the
generator's own replies it flags none of 12,000 (3,715 of them with a note).

A draft that carries one counts as ``invented_facts`` (:func:`handlers.checks.check_draft`) and
the mend deletes the sentence (:mod:`handlers.repair`): the note is a restatement, so the rest
of the draft stands without it.

Pure and bounded: at most 40 sentences of the draft, a few fixed regular expressions over each,
and for a product list at most a few words looked up among the email's first 1,000 words (a
word with a digit in its first 20,000 characters).
"""

from __future__ import annotations

import re

from handlers.checks_answer import email_words, sentences
from handlers.checks_case import near
from models.synth.answers import closest_answer

_I = re.IGNORECASE
# A sentence that says the team noted something.
NOTE = re.compile(
    r"\b(?:we|i)(?:'ve| have)\s+(?:also\s+)?(?:noted|made (?:a )?notes?)\b|\ball noted\b"
    r"|\bnoted (?:on|in|for) (?:your|the) (?:case|account|file)", _I)
# A note of what the customer wrote, named as such: true of every email ("We've noted your
# feedback.", "We've noted your request, and ...").
_GENERIC = re.compile(
    r"\b(?:noted|a note of)\s+(?:all\s+)?(?:your|the)\s+(?:kind\s+)?(?:feedback|comments?|"
    r"message|request|details|concerns?|complaint|suggestions?|points?)\s*(?:[.!]|,?\s+and\b)",
    _I)
# The generator's three ways of noting other products, with the product list as "x".
_PRODUCTS = (
    # "you mentioned", or a persona's "ye mentioned".
    re.compile(r"\bmade a note of (?P<x>.+?) (?:that )?\w+ mentioned\b", _I),
    re.compile(r"\bmentioning (?P<x>.+?) as well\b", _I),
    re.compile(r"\bnoted (?P<x>.+?),? too\b", _I),
)
# "noted that you mentioned the Thimble sewing machine, too" notes the machine.
_MENTIONED = re.compile(
    r"^that (?:you|ye)(?:'ve| have)? (?:also )?(?:mentioned|own|have|bought|got)\s+", _I)
_CLAUSE = re.compile(r"^(?:that|how|what|why|when|where|if|whether|your request)\b", _I)
# The billing-period answer ("We've noted that you'd like it to end at the close of the current
# billing period, ..."): checks_answer's to judge against the email.
_PERIOD_END = re.compile(r"\b(?:end|close)\b.{0,40}\bperiod\b", _I)
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_FILLER = frozenset(
    "the your a an and or of you mentioned as well too our also other both".split())
NEAR_SIMILARITY = 0.8
DIGIT_WINDOW_CHARS = 20_000


def invented_notes(draft: str, source: str) -> list[str]:
    """The sentences of ``draft`` that note something ``source`` (the email) did not say, in
    order; empty when every note is of products the email names, or there is none."""
    found = [s for s in sentences(draft) if NOTE.search(s)]
    if not found:
        return []
    words = email_words(source)
    return [s for s in found if invented_note(s, source, words)]


def invented_note(sentence: str, source: str, words: dict[str, set[str]] | None = None) -> bool:
    """Whether ``sentence`` notes something that ``source`` did not say: a note that is neither
    a list of products the email names nor the billing-period answer. ``words``: the email's
    words (:func:`handlers.checks_answer.email_words`), when the caller has them."""
    if not NOTE.search(sentence):
        return False
    closest = closest_answer(sentence)
    if closest is not None and closest[0] == "cancel_period_end" and _PERIOD_END.search(sentence):
        return False
    if _GENERIC.search(sentence):
        return False
    for pattern in _PRODUCTS:
        match = pattern.search(sentence)
        if match:
            noted = _MENTIONED.sub("", match.group("x")).rstrip(", ")
            if _CLAUSE.match(noted):
                return True
            words = email_words(source) if words is None else words
            return not _named(noted, source, words)
    return True


def _named(phrase: str, source: str, words: dict[str, set[str]]) -> bool:
    """Whether every word of ``phrase`` but the filler is in ``source``: among its first words
    or a near miss of one, or, for a word with a digit ("R5"), anywhere in its first
    ``DIGIT_WINDOW_CHARS``."""
    lowered = source[:DIGIT_WINDOW_CHARS].lower()
    for token in _TOKEN.findall(phrase.lower()):
        token = token.removesuffix("'s")
        digits = any(ch.isdigit() for ch in token)
        if (len(token) < 3 and not digits) or token in _FILLER:
            continue
        if digits:
            if token not in lowered:
                return False
        elif not (token in words.get(token[0], ()) or near(
                words, (token,), prefix=1, similarity=NEAR_SIMILARITY)):
            return False
    return True
