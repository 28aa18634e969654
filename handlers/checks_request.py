"""A draft that answers another request than the one the email makes.

The misread-answer check (:mod:`handlers.checks_answer`) asks whether an email gives any ground
for the answer a draft carries, and one word is enough: "the courier" in a long email grounds
"We've asked the courier for the latest tracking details", even when the email is about a refund
that never came (the parcel went back weeks ago). Read as a whole, though, such an email makes
one request clearly (:func:`handlers.topic.classify`, the case the reply prompt states), and a
draft whose answer belongs to another case has misread it.

:func:`answers_another` is true when the email reads as one case, the draft carries an answer
sentence of the generator's (:func:`models.synth.answers.closest_answer`) and none of them
answers that case: each belongs to another case, and does not name the email's case in its own
words ("We're checking whether the warranty covers the battery" names a warranty, whatever
answer it resembles). Thanks for praise and thanks for help answer either kind of thank-you.
An email that reads as no one case ("unclear") is judged more loosely: the draft answers
another request when every answer sentence in it belongs to a case the email gives not one
word of (a score of 0; "We'll send you the return instructions" to a discount code that did
not work, or to a newsletter).

It sets ``needs_review`` (reason ``off_request``) and changes no text itself: the case comes
from keywords, so a person sees the draft. With ``check_wording`` "cut" the pipeline puts the
holding line in place of that answer (:func:`handlers.checks_wording.cut_answers`): the draft
still goes for review, and a holding line states no answer, so no wrong one. On 12,000 of the
generator's own replies it flags 33: 10 emails the keywords read as another case, and 23 of the
297 unclear ones, each with a typo in its only case word ("sroting out my account"); see
docs/DRAFTS.md.

Pure and bounded: at most 40 sentences of the draft, each compared with the fixed answer
sentences, and the case's patterns over each answer sentence.
"""

from __future__ import annotations

import re

from handlers import topic
from handlers.checks_answer import answers_nothing, sentences
from handlers.checks_wording import OPENINGS, answer_held, body_sentences, cut_answers, hold
from handlers.types import EmailText, Sentiment
from models.synth import reply_lists as R
from models.synth.answers import CASE_OF_REQUEST, closest_answer

_THANKS = frozenset({"praise", "support_thanks"})
# The acknowledgements the reply adapter learned for each case, as patterns of a whole
# sentence (the item any short text), with the length of their fixed words: the longest fit
# names the case ("Thanks for your question about the warranty on {item}." over "Thanks for
# your question about {item}."). A thank-you ("kind words", any case's positive one) is of
# the thanks kind; those that fit any case ("Thank you for getting in touch about {item}.")
# are left out.
_ANY_CASE = frozenset({"Thank you for getting in touch about {item}.",
                       "Thanks for checking in about {item}."})
_ACKS: tuple[tuple[str, int, re.Pattern[str]], ...] = tuple(
    ("praise" if mood == "positive" else case, len(ack),
     re.compile(".{1,120}?".join(map(re.escape, ack.split("{item}")))))
    for case, by_mood in R.REPLY_ACKS.items() for mood, acks in by_mood.items() for ack in acks
    if ack not in _ANY_CASE)
# case -> the kinds of acknowledgement that suit it: a question may come with thanks
_SUITS = {"praise": _THANKS, "support_thanks": _THANKS,
          "feature_question": frozenset({"feature_question", "praise"})}


def answers_another(draft: str, case: str | None, found: dict[str, int] | None = None) -> bool:
    """Whether ``draft`` answers another case than ``case`` (the email's, None when unclear)
    and none of its sentences answers ``case``; for an unclear email, whether each of its
    answers belongs to a case of score 0 in ``found`` (the email's :func:`handlers.topic.scores`;
    None: an unclear email is not judged). See the module doc."""
    if case is None and found is None:
        return False
    another = False
    for sentence in sentences(draft):
        closest = closest_answer(sentence)
        if closest is None:
            continue
        answered = CASE_OF_REQUEST.get(closest[0], closest[0])
        if case is None:
            kin = _THANKS if answered in _THANKS else (answered,)
            if found and any(found.get(c, 0) > 0 for c in kin):
                return False
            another = True
        elif answered == case or topic.scores("", sentence)[case] >= topic.MIN_SCORE:
            return False
        else:
            another = another or not (answered in _THANKS and case in _THANKS)
    return another


def unanswered(draft: str, email: EmailText, source: EmailText, sentiment: str) -> tuple[str, ...]:
    """The review reasons of a draft that leaves ``email`` (as quoted, with its request read)
    unanswered: ``no_answer`` (:func:`handlers.checks_answer.answers_nothing`, against the
    email as received, ``source``) or ``off_request`` (:func:`answers_another`)."""
    if answers_nothing(draft, source, sentiment):
        return ("no_answer",)
    case = _case(email)
    found = None if case else topic.scores(email.subject, email.body)
    if answers_another(draft, case, found):
        return ("off_request",)
    return ()


def hold_off_request(draft: str, email: EmailText, source: EmailText, sentiment: Sentiment,
                     disputed: bool = False) -> tuple[str, tuple[str, ...]]:
    """:func:`unanswered`'s reasons, and the draft with an answer to another request replaced
    by the holding line (:func:`handlers.checks_wording.cut_answers`; ``check_wording`` "cut"):
    such a draft answers nothing now, so it also gets ``no_answer``. A draft that answers
    nothing (``no_answer``) and says no holding line gets one (:func:`handlers.checks_wording.
    hold`). Unless the request is ``disputed`` (``request_disputed``), the holding line then
    gives way to the email's case's line (:func:`handlers.checks_wording.answer_held`). An
    opening that acknowledges another case gives way to the plain one (:func:`own_opening`,
    disputed or not: the plain opening is right for any case). The reasons stay those of the
    draft as the adapter wrote it."""
    why = unanswered(draft, email, source, sentiment)
    case = _case(email)
    held = cut_answers(draft, sentiment, case) if why == ("off_request",) else None
    if held is None:  # a draft that answers nothing says, at least, that support will be back
        held = hold(draft, sentiment, case) if "no_answer" in why else draft
    else:
        why = (*why, *(r for r in unanswered(held, email, source, sentiment) if r not in why))
    return own_opening(held if disputed else answer_held(held, case), case, sentiment), why


def own_opening(draft: str, case: str | None, sentiment: Sentiment) -> str:
    """``draft`` with its first sentence, when that is the acknowledgement of another case than
    ``case`` (the email's), replaced by the opening for ``sentiment``
    (:data:`handlers.checks_wording.OPENINGS`): "Thanks so much for the kind words about your
    order!" to a change of address whose sentiment read positive, "Thanks for your question
    about the warranty" to a question about a recall. Thanks for praise and for help are one
    kind. Unchanged for an unclear email (``case`` None)."""
    first = next(iter(body_sentences(draft)), None)
    if case is None or first is None:
        return draft
    fits = [(size, kind) for kind, size, pattern in _ACKS if pattern.fullmatch(first)]
    if not fits or any(kind in _SUITS.get(case, {case}) for size, kind in fits
                       if size == max(fits)[0]):
        return draft
    return draft.replace(first, OPENINGS.get(sentiment, OPENINGS["neutral"]), 1)


def _case(email: EmailText) -> str | None:
    """The email's case: its request line's (as the reply prompt states it), else read anew."""
    return (topic.case_of(email.request) if email.request
            else topic.classify(email.subject, email.body))
