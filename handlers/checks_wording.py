"""Sentences the reply adapter never learned to write: its guesses, flagged for review.

The shipped reply adapter learned every sentence it writes from the generator's replies
(:mod:`models.synth.reply_lists`: acknowledgements, answers, questions for the order number,
closings). On an email like the ones it was trained on, it writes those sentences nearly word
for word, with the customer's name and products in their slots, and it is mostly right. On an
email it cannot place (a discount code, a price match, two problems in one long email) it
strings words of its own together: "I'm sorry your order this mistake on the payment system
still works out for you", "We're checking the invoice's return steps and will let you know if
it's there", "We'll send a fresh invoice" for a double charge. Such a sentence is fluent enough
that no other check sees it, and it is most of what makes a draft unsendable.

:func:`unfamiliar_sentences` returns each sentence of a draft's body holding a run of three
words that no sentence of the generator's replies holds, once the names, products and locations
the analysis found are replaced by a slot (as the generator's own ``{item}`` is). The greeting
and the sign-off are not read (other checks own them). On 200 held-out generator emails
(seed 11), it finds such a sentence in 8 of the 137 drafts that give the right answer, 13 of the
24 that give another request's answer and 34 of the 39 that give none; in none of 12,000 of
the generator's own replies (docs/DRAFTS.md has the figures and the commands).

It sets ``needs_review`` (reason ``unfamiliar_wording``). With ``check_wording`` "flag" it
changes no text. With "cut" (the default for the shipped adapter), :func:`cut` deletes those
sentences: on mail unlike the generator's they are mostly garbled, and a support agent can send,
or build on, what is left. A cut opening gives way to a fixed one by sentiment
(:data:`OPENINGS`), and a cut answer, when no answer is left, to a holding line
(:data:`HOLDING`: support will come back to the customer; :data:`PASSED_ON` for praise). The
draft still goes for review: a sentence cut can have been a good new one ("Could you tell us
which step you've reached?"), and a holding line answers nothing (``no_answer``). Where both
readers of the request agree on the email's case, the holding line gives way to that case's
line (:func:`answer_held`: "We're going through the charges on your account ..." for billing).
:func:`cut_answers` does the same to the answer of another request than the email's
(``off_request``). It applies only to drafts written by an adapter trained on the generator's
replies (``check_wording``, set from the adapter's manifest): any other writer's sentences are
all new.

Pure and bounded: at most 40 sentences of the draft, a set lookup per word; the table is built
once, from the fixed phrase lists; a cut is linear in the draft.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

from handlers.types import Entities, Sentiment
from models.synth import reply_lists as R
from models.synth.answers import CASE_OF_REQUEST, closest_answer

SLOT = "<slot>"
N = 3
MAX_SENTENCES = 40
MIN_WORDS = 3  # "Thanks again!" is too short to say anything about
# The lists a plain reply is made of (models.synth.emails._plain_reply), and what replyd adds
# to a draft itself (handlers.repair's apology).
_LISTS = ("REPLY_ACKS", "REPLY_EMPATHY", "REPLY_CHASED", "REPLY_ANSWERS", "REPLY_ID_ASKS",
          "REPLY_EXTRAS", "REPLY_EXTRAS_SHORT", "REPLY_LOCATIONS", "REPLY_CLOSINGS")
# What a cut puts in place of the adapter's guesses (:func:`cut`): a first sentence by the
# email's sentiment, and a line saying a person will come back, when no answer is left.
OPENINGS: dict[str, str] = {
    "negative": "I'm sorry for the trouble you've had, and thank you for letting us know.",
    "neutral": "Thank you for getting in touch.",
    "positive": "Thank you for your message!",
}
HOLDING = "We're looking into this for you and will get back to you as soon as we can."
PASSED_ON = "We'll pass your message on to the team."
_THANKS = frozenset({"praise", "support_thanks"})
# case -> the answer of the generator's replies (key and index into R.REPLY_ANSWERS) that a held
# draft of that case says instead of HOLDING (:func:`answer_held`): each promises the next step
# of its case and asks for nothing a customer of that case has most likely said already (not
# "which part is missing?"). Praise and thanks keep PASSED_ON.
_CASE_LINES: dict[str, tuple[str, int]] = {
    "late_delivery": ("late_delivery", 0), "broken_item": ("broken_item", 0),
    "wrong_item": ("wrong_item", 0), "billing": ("billing", 1),
    "return_request": ("return_request", 0), "cancellation": ("cancellation", 0),
    "feature_question": ("feature_question", 1), "setup_help": ("setup_help", 0),
    "missing_part": ("missing_part", 2), "refund_status": ("refund_status", 1),
    "warranty": ("warranty", 0), "address_change": ("address_change", 0),
    "login_problem": ("login_problem", 1),
}
_CLOSINGS = frozenset(closing for closings in R.REPLY_CLOSINGS.values() for closing in closings)
# The apology handlers.repair adds to a negative email's draft that has none.
APOLOGY = "I'm sorry for the trouble you've had."
_OWN = (APOLOGY, *OPENINGS.values(), HOLDING, PASSED_ON)
# A sentence that tells the customer support will come back: the two lines above, and the
# closings of the generator's negative replies that promise it.
_COMING_BACK = re.compile(r"\b(?:get back to you|pass your message on|keep you updated|be in "
                          r"touch)\b", re.IGNORECASE)
_EXTRAS = (f"the {SLOT}", f"the {SLOT} and the {SLOT}", f"the {SLOT}, the {SLOT} and the {SLOT}")
_WORD = re.compile(r"<slot>|[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'"})
# A greeting or the words before the signature: "Hi Lucía,", "Best regards,".
_SIGN_WORDS = re.compile(r"^[^\W\d_][^\W\d_ ,!'-]*(?:[ ,!'-]+[^\W\d_]+){0,4},$")


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _strings(item)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.translate(_FOLD).lower())


def _grams(text: str) -> Iterator[tuple[str, ...]]:
    words = ["<s>", *_words(text), "</s>"]
    return zip(*(words[k:] for k in range(N)), strict=False)


def _filled(template: str) -> Iterator[str]:
    items = [f"your {SLOT}", *sorted({g for gs in R.REPLY_GENERIC.values() for g in gs})]
    texts = ([template.replace("{item}", item).replace("{Item}", item[0].upper() + item[1:])
              for item in items] if "{item}" in template or "{Item}" in template else [template])
    for text in texts:
        if "{extras}" in text:
            yield from (text.replace("{extras}", extras) for extras in _EXTRAS)
        else:
            yield text.replace("{location}", SLOT)


@functools.cache
def known_grams() -> frozenset[tuple[str, ...]]:
    """Every run of :data:`N` words (with sentence bounds) in a sentence the generator's replies
    are made of, slots filled with :data:`SLOT` or the generic items ("your order")."""
    known: set[tuple[str, ...]] = set()
    templates = [text for name in _LISTS for text in _strings(getattr(R, name))]
    for template in (*templates, *_OWN):
        for text in _filled(template):
            for sentence in _SENTENCE_END.split(text):
                known.update(_grams(sentence))
    return frozenset(known)


def _slots(values: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for every value, longest first (a product before the name inside it)."""
    kept = sorted({v for v in values if v.strip()}, key=len, reverse=True)
    # Whole words only: a one-letter initial ("K Doyle") must not turn "keep" into a slot.
    return (re.compile(rf"(?<!\w)(?:{'|'.join(map(re.escape, kept))})(?!\w)", re.IGNORECASE)
            if kept else None)


def body_sentences(draft: str) -> list[str]:
    """The sentences between a draft's greeting and its sign-off, at most :data:`MAX_SENTENCES`."""
    lines = [line.strip() for line in draft.splitlines() if line.strip()]
    if lines and _SIGN_WORDS.match(lines[0]):
        lines = lines[1:]
    if lines:
        lines = lines[:-1]  # the team's signature
    if lines and _SIGN_WORDS.match(lines[-1]):
        lines = lines[:-1]
    found = [s for line in lines for s in _SENTENCE_END.split(line) if s.strip()]
    return found[:MAX_SENTENCES]


def unfamiliar_sentences(draft: str, entities: Entities) -> list[str]:
    """The body sentences of ``draft`` with a run of words no generator reply holds, once the
    names (and first names), products and locations in ``entities`` are slots."""
    values = [*entities.name, *(name.split()[0] for name in entities.name if name.split()),
              *entities.product, *entities.location]
    known, slots = known_grams(), _slots(values)
    unfamiliar = []
    for sentence in body_sentences(draft):
        slotted = slots.sub(SLOT, sentence) if slots else sentence
        if len(_words(slotted)) < MIN_WORDS:
            continue
        if any(gram not in known for gram in _grams(slotted)):
            unfamiliar.append(sentence)
    return unfamiliar


def review(draft: str, entities: Entities, sentiment: Sentiment = "neutral",
           request: str | None = None, mode: str = "flag") -> tuple[str, tuple[str, ...]]:
    """The draft to send and its review reasons: ``("unfamiliar_wording",)`` when ``draft`` has
    a sentence :func:`unfamiliar_sentences` finds, else ``()`` (the reason, never the sentence:
    no email text leaves here). ``mode`` "cut" sends :func:`cut`'s text, "flag" the draft as
    written."""
    found = unfamiliar_sentences(draft, entities)
    if not found:
        return draft, ()
    # Flagged even when nothing is cut: an answer of the email's case in new words is kept.
    mended = _cut(draft, found, sentiment, request) if mode == "cut" else None
    return mended or draft, ("unfamiliar_wording",)


def cut(draft: str, entities: Entities, sentiment: Sentiment, request: str | None) -> str | None:
    """``draft`` less the sentences :func:`unfamiliar_sentences` finds, or None when it has
    none. What replaces them is fixed text: :data:`OPENINGS` for a cut first sentence (unless
    what is left opens with thanks or an apology), and, when no sentence left answers anything
    (:func:`models.synth.answers.closest_answer`), :data:`HOLDING` (:data:`PASSED_ON` for praise
    or thanks) where the first cut sentence after the opening stood; a kept sentence that
    promises the same ("we'll keep you updated") then goes, so the draft says it once. Greeting
    and sign-off are kept as written."""
    return _cut(draft, unfamiliar_sentences(draft, entities), sentiment, request)


def _cut(draft: str, found: list[str], sentiment: Sentiment, request: str | None) -> str | None:
    bad = {s for s in found if not _answers(s, request)}
    return _without(draft, bad, sentiment, request) if bad else None


def _answers(sentence: str, request: str | None) -> bool:
    """Whether ``sentence`` words an answer of the email's case in its own way ("We'll check
    the payments on your account now" to a double charge): such a sentence is kept."""
    closest = closest_answer(sentence)
    return closest is not None and CASE_OF_REQUEST.get(closest[0]) == request


def cut_answers(draft: str, sentiment: Sentiment, request: str | None) -> str | None:
    """``draft`` less its answer sentences (:func:`models.synth.answers.closest_answer`), the
    first giving way to :data:`HOLDING` as in :func:`cut`; None when it has none. For a draft
    whose answer belongs to another request than the email's (``off_request``)."""
    answers = {s for s in body_sentences(draft) if closest_answer(s) is not None}
    return _without(draft, answers, sentiment, request) if answers else None


def hold(draft: str, sentiment: Sentiment, request: str | None) -> str:
    """``draft`` with :data:`HOLDING` (:data:`PASSED_ON` for praise or thanks) after its first
    body sentence when no sentence of it answers anything and it says neither line yet: a draft
    whose answer a mend deleted (``no_answer``) still tells the customer support will be back.
    A draft that says so already (a closing's "we'll be in touch") is left as it is."""
    if _COMING_BACK.search(draft):
        return draft
    return _without(draft, set(), sentiment, request)


def case_line(case: str | None) -> str | None:
    """The line a held draft of ``case`` says instead of :data:`HOLDING`; None for praise,
    thanks, an unclear email or an unknown case."""
    key = _CASE_LINES.get(case or "")
    return R.REPLY_ANSWERS[key[0]][key[1]] if key else None


def answer_held(draft: str, case: str | None) -> str:
    """``draft`` with its :data:`HOLDING` line, if any, replaced by :func:`case_line` of
    ``case``: for an email whose case two readers agree on (the word reader's request line, not
    disputed by the request adapter), the next step of that case says more than "we'll get back
    to you", and it is the reply adapter's own learned answer for it."""
    line = case_line(case)
    return draft.replace(HOLDING, line, 1) if line and HOLDING in draft else draft


def _without(draft: str, bad: set[str], sentiment: Sentiment, request: str | None) -> str:
    lines = draft.splitlines()
    filled = [k for k, line in enumerate(lines) if line.strip()]
    start = filled[0] + 1 if _SIGN_WORDS.match(lines[filled[0]].strip()) else filled[0]
    end = filled[-1]  # the team's signature
    if len(filled) > 1 and filled[-2] >= start and _SIGN_WORDS.match(lines[filled[-2]].strip()):
        end = filled[-2]
    groups: list[list[str]] = [[]]
    for line in lines[start:end]:
        if line.strip():
            groups[-1].extend(s for s in _SENTENCE_END.split(line.strip()) if s.strip())
        elif groups[-1]:
            groups.append([])
    kept = [s for group in groups for s in group if s not in bad]
    answered = any(closest_answer(s) is not None for s in kept)
    hold = None if answered else PASSED_ON if request in _THANKS else HOLDING
    if hold:  # the holding line is the one promise to come back: a closing's goes
        bad = bad | {s for s in kept if _COMING_BACK.search(s)}
        kept = [s for s in kept if s not in bad]
    # What is left opens with thanks or an apology of its own (not a closing's "Thanks for
    # bearing with us" moved up).
    opens_itself = bool(kept) and kept[0] not in _CLOSINGS and _words(kept[0])[:1] in (
        ["sorry"], ["i'm"], ["thanks"], ["thank"])
    written: list[list[str]] = []
    first = True
    for group in groups:
        out: list[str] = []
        for sentence in group:
            if sentence not in bad:
                out.append(sentence)
            elif first and not opens_itself:
                out.append(OPENINGS.get(sentiment, OPENINGS["neutral"]))
            elif not first and hold:
                out.append(hold)
                hold = None
            first = False
        written.append(out)
    if hold:  # only the opening was cut: the holding line follows what stands first
        target = next((out for out in written if out), None)
        if target is None:
            written.append([hold])
        else:
            target.insert(1, hold)
    head = "\n".join(lines[:start]).strip()
    body = "\n\n".join(" ".join(out) for out in written if out)
    tail = "\n".join(lines[end:]).strip()
    return "\n\n".join(part for part in (head, body, tail) if part)
