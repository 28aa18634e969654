"""Whether a reply draft answers what its synthetic email asks: a content measure.

Every reply the generator writes carries one answer sentence of
:data:`models.synth.reply_lists.REPLY_ANSWERS`, chosen by what the email asks (a double charge, a
beep to turn off, a wrong item...). A draft that carries the answer of another request has
misread the case ("We're checking the delivery team's progress" to a wrong item); one that
carries none answers vaguely or not at all. The checks cannot see either: each sentence is
fine on its own. :func:`answer_report` counts both against the reference replies of a
``replyd synth --task reply`` file, which is what ``replyd eval --task reply`` reports as
``answers``.

A draft's sentence counts as an answer when it shares :data:`ANSWER_SIMILARITY` of its words
(of three letters or more; Jaccard) with one of the generator's answer sentences, the closest
one winning: the model words an answer its own way ("We're checking whether the beep can be
turned off" for "We're checking whether the finishing beep can be turned off, and ...").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from models.synth import email_lists as L
from models.synth.reply_lists import CORE_REQUESTS, REPLY_ANSWERS

ANSWER_SIMILARITY = 0.5
MIN_WORDS = 3  # shorter sentences ("Thanks again!") answer nothing
_MAX_SENTENCES = 40  # a bound on the work per draft
_WORD = re.compile(r"[a-z']{3,}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# request (an answer's key in REPLY_ANSWERS) -> the case it answers (a key of L.ISSUES)
CASE_OF_REQUEST: dict[str, str] = {
    **{case: case for case in L.ISSUES},
    **{CORE_REQUESTS[template]: case for case, by_mood in L.CORE.items()
       for templates in by_mood.values() for template in templates
       if template in CORE_REQUESTS},
}
_ANSWERS: tuple[tuple[str, str, frozenset[str]], ...] = tuple(
    (request, sentence, frozenset(_WORD.findall(sentence.lower())))
    for request, sentences in REPLY_ANSWERS.items() for sentence in sentences
)


def reference_request(reply: str) -> str | None:
    """The request whose answer sentence a generator reply carries word for word; None for a
    reply the generator did not write."""
    return next((request for request, sentence, _ in _ANSWERS if sentence in reply), None)


def answered_request(draft: str) -> str | None:
    """The request whose answer ``draft`` comes closest to carrying, or None when no sentence
    of it is :data:`ANSWER_SIMILARITY` like any answer."""
    best, found = 0.0, None
    for sentence in _SENTENCE_END.split(draft, maxsplit=_MAX_SENTENCES)[:_MAX_SENTENCES]:
        closest = closest_answer(sentence)
        if closest is not None and closest[2] > best:
            best, found = closest[2], closest[0]
    return found


def closest_answer(sentence: str) -> tuple[str, frozenset[str], float] | None:
    """The request of the answer sentence closest to ``sentence``, that answer's words and
    their similarity, or None when none is :data:`ANSWER_SIMILARITY` like it."""
    words = frozenset(_WORD.findall(sentence.lower()))
    if len(words) < MIN_WORDS:
        return None
    best: tuple[str, frozenset[str], float] | None = None
    for request, _, answer in _ANSWERS:
        similarity = len(words & answer) / len(words | answer)
        if similarity >= ANSWER_SIMILARITY and (best is None or similarity > best[2]):
            best = (request, answer, similarity)
    return best


def answer_report(references: Sequence[str], drafts: Iterable[str | None]) -> dict[str, Any]:
    """Over the rows whose reference reply carries a generator answer: the share of drafts that
    carry the same request's answer (``right``), another request's (``other``) or none
    (``none``; an unusable draft counts here)."""
    counts = {"right": 0, "other": 0, "none": 0}
    for reference, draft in zip(references, drafts, strict=True):
        kind = answer_kind(reference, draft)
        if kind is not None:
            counts[kind] += 1
    n = sum(counts.values())
    return {"n": n, **{key: round(count / n, 4) if n else 0.0 for key, count in counts.items()}}


def answer_kind(reference: str, draft: str | None) -> str | None:
    """Whether ``draft`` carries the answer of ``reference``'s request ("right"), another's
    ("other") or none ("none"; also an unusable draft); None when ``reference`` carries no
    generator answer."""
    wanted = reference_request(reference)
    if wanted is None:
        return None
    got = answered_request(draft) if draft else None
    return "none" if got is None else "right" if got == wanted else "other"
