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

It sets ``needs_review`` (reason ``unfamiliar_wording``) and changes no text: a new sentence can
be a good one ("Could you tell us which step you've reached?"), so a person decides. It applies
only to drafts written by an adapter trained on the generator's replies (the pipeline's
``check_wording``, set from the adapter's manifest): any other writer's sentences are all new.

Pure and bounded: at most 40 sentences of the draft, a set lookup per word; the table is built
once, from the fixed phrase lists.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

from handlers.types import Entities
from models.synth import reply_lists as R

SLOT = "<slot>"
N = 3
MAX_SENTENCES = 40
MIN_WORDS = 3  # "Thanks again!" is too short to say anything about
# The lists a plain reply is made of (models.synth.emails._plain_reply), and what replyd adds
# to a draft itself (handlers.repair's apology).
_LISTS = ("REPLY_ACKS", "REPLY_EMPATHY", "REPLY_CHASED", "REPLY_ANSWERS", "REPLY_ID_ASKS",
          "REPLY_EXTRAS", "REPLY_EXTRAS_SHORT", "REPLY_LOCATIONS", "REPLY_CLOSINGS")
_OWN = ("I'm sorry for the trouble you've had.",)
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
    return re.compile("|".join(map(re.escape, kept)), re.IGNORECASE) if kept else None


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


def review(draft: str, entities: Entities) -> tuple[str, ...]:
    """``("unfamiliar_wording",)`` when ``draft`` has a sentence :func:`unfamiliar_sentences`
    finds, else ``()``: the review reason, never the sentence (no email text leaves here)."""
    return ("unfamiliar_wording",) if unfamiliar_sentences(draft, entities) else ()
