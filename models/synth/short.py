"""Short customer messages, labelled by construction: review snippets and social posts.

:mod:`models.synth.emails` writes support emails; customers also write one-line reviews and terse
posts, and an adapter trained on emails alone learns the email register (greetings, signatures,
a named customer in every message) rather than the task. These two generators add the other
registers:

* review snippets carry a sentiment by construction: positive and negative snippets contain
  opinion clauses of their sentiment only, neutral ones only factual clauses and questions;
* social posts carry entities by construction: the people, places and products filled into a
  template's entity slots, exact substrings of the post; companies, events, handles and
  hashtags are unlabelled distractors, and a third of posts name nothing at all. Their
  sentiment comes from the template's tone and its emoticon or hashtag
  (:mod:`models.synth.post_sentiment`), ``None`` where those disagree.

Same rules as the emails: deterministic for ``(n, seed, split)``, a shorter list is a prefix of
a longer one, the global ``random`` state is untouched, and the eval split's names, places and
products never occur in the train split.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass
from typing import Any

from models.synth import short_lists as S
from models.synth.post_sentiment import post_sentiment
from models.synth.splits import split_items, vocabulary
from models.vocabulary import SENTIMENTS

_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class ShortText:
    """One generated short message; ``entities`` lists exact substrings of ``text``."""

    text: str
    sentiment: str | None
    entities: dict[str, list[str]]


def _split_vocab(split: str) -> dict[str, tuple[str, ...]]:
    vocab = vocabulary(split)  # type: ignore[arg-type]  # checked by vocabulary
    vocab["branded"] = split_items(S.BRANDED_PRODUCTS, split)  # type: ignore[arg-type]
    vocab["region"] = split_items(S.REGIONS, split)  # type: ignore[arg-type]
    return vocab


# --- review snippets ---------------------------------------------------------------------------


def generate_reviews(n: int, seed: int = 0, split: str = "train") -> list[ShortText]:
    """``n`` review snippets with balanced sentiments (shuffled blocks of three)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    _split_vocab(split)  # validates the split
    return [_review(i, seed, split) for i in range(n)]


def _review(i: int, seed: int, split: str) -> ShortText:
    rng = random.Random(f"replyd-synth-review/{seed}/{split}/{i}")
    block = list(SENTIMENTS)
    random.Random(f"replyd-synth-review/{seed}/{split}/block/{i // 3}").shuffle(block)
    sentiment = block[i % 3]
    noun = rng.choice(S.NOUNS)
    if sentiment == "neutral":
        clauses = [_fill(c, rng, noun) for c in rng.sample(S.NEUTRAL_CLAUSES, k=rng.randint(1, 3))]
    else:
        if sentiment == "positive":
            explicit, implicit = S.POSITIVE_CLAUSES, S.IMPLICIT_POSITIVE_CLAUSES
        else:
            explicit, implicit = S.NEGATIVE_CLAUSES, S.IMPLICIT_NEGATIVE_CLAUSES
        pool = implicit if rng.random() < 0.4 else explicit
        opinions = [_fill(c, rng, noun) for c in rng.sample(pool, k=rng.randint(1, 2))]
        facts = [_fill(c, rng, noun)
                 for c in rng.sample(S.NEUTRAL_CLAUSES, k=rng.choice((0, 0, 1, 1, 2)))]
        clauses = opinions + facts
        rng.shuffle(clauses)
        if rng.random() < 0.6 and opinions[0] in clauses:  # opinion usually leads
            clauses.remove(opinions[0])
            clauses.insert(0, opinions[0])
    text = " ".join(clauses)
    if sentiment != "neutral" and rng.random() < 0.2:
        text = text.rstrip(".") + "!"
    if rng.random() < 0.35:
        text = text.lower()
    if rng.random() < 0.2:
        text = text.rstrip(".!")
    return ShortText(text=text, sentiment=sentiment, entities={"name": [], "product": [],
                                                                "location": []})


def _fill(template: str, rng: random.Random, noun: str) -> str:
    aspects = rng.sample(S.ASPECTS, k=2)
    pos, neg = rng.sample(S.POSITIVE_WORDS, k=2), rng.sample(S.NEGATIVE_WORDS, k=2)
    colors = rng.sample(S.COLORS, k=2)
    accs = rng.sample(S.ACCESSORIES, k=2)
    values = {
        "noun": noun, "Noun": noun[0].upper() + noun[1:], "aspect": aspects[0],
        "aspect2": aspects[1], "pos": pos[0], "pos2": pos[1], "Pos": pos[0][0].upper() + pos[0][1:],
        "neg": neg[0], "neg2": neg[1], "duration": rng.choice(S.DURATIONS),
        "relative": rng.choice(S.RELATIVES), "when": rng.choice(S.WHENS), "acc": accs[0],
        "acc2": accs[1], "color": colors[0], "color2": colors[1], "usage": rng.choice(S.USAGES),
        "num": str(rng.choice((2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30))),
        "power": rng.choice(S.POWER), "compat": rng.choice(S.COMPAT), "day": rng.choice(S.DAYS),
        "price": rng.choice(S.PRICES), "task": rng.choice(S.TASKS),
        "benefit": rng.choice(S.BENEFITS), "long_time": rng.choice(S.LONG_TIMES),
        "part": rng.choice(S.PARTS), "feature": rng.choice(S.FEATURES),
        "usage_ing": rng.choice(S.USAGES_ING),
    }
    return template.format(**values)


# --- social posts ------------------------------------------------------------------------------


def generate_posts(n: int, seed: int = 0, split: str = "train") -> list[ShortText]:
    """``n`` social posts; about two in three name a person, place or product."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    vocab = _split_vocab(split)
    return [_post(i, seed, split, vocab) for i in range(n)]


def _post(i: int, seed: int, split: str, vocab: dict[str, tuple[str, ...]]) -> ShortText:
    rng = random.Random(f"replyd-synth-post/{seed}/{split}/{i}")
    with_entities = rng.random() < 0.7
    template = rng.choice(S.POSTS_WITH_ENTITIES if with_entities else S.POSTS_WITHOUT_ENTITIES)
    people = [_person(rng, vocab) for _ in range(2)]
    while people[1].casefold() == people[0].casefold():
        people[1] = _person(rng, vocab)
    places = [rng.choice(vocab["region"]) if rng.random() < 0.35 else city
              for city in rng.sample(vocab["location"], k=2)]
    while places[1].casefold() == places[0].casefold():
        places[1] = rng.choice(vocab["location"])
    product = rng.choice(vocab["branded"] + vocab["device"][: len(vocab["branded"]) // 3])
    handles = [_handle(rng, vocab) for _ in range(2)]
    teams = rng.sample(S.TEAMS, k=2)
    values = {
        "person": people[0], "person2": people[1],
        "titled": f"{rng.choice(S.TITLES)} {rng.choice(vocab['surname'])}",
        "place": places[0], "place2": places[1], "product": product,
        "company": rng.choice(S.COMPANIES), "event": rng.choice(S.EVENTS),
        "handle": handles[0], "handle2": handles[1], "url": _url(rng),
        "tag": rng.choice(S.HASHTAGS), "emo": rng.choice(S.EMOTICONS),
        "relative": rng.choice(S.RELATIVES), "show": rng.choice(S.SHOWS),
        "team": teams[0], "team2": teams[1], "band": rng.choice(S.BANDS),
    }
    slots = _SLOT.findall(template)
    if "place" in slots and rng.random() < 0.15:  # places are often hashtags in posts
        values["place"] = "#" + places[0].replace(" ", "")
    text = template.format(**values)
    fields = {"person": "name", "person2": "name", "titled": "name", "place": "location",
              "place2": "location", "product": "product"}
    entities: dict[str, list[str]] = {"name": [], "product": [], "location": []}
    for slot in slots:
        if slot in fields and values[slot] not in entities[fields[slot]]:
            entities[fields[slot]].append(values[slot])
    if rng.random() < 0.25:  # many people never use capitals
        text = text.lower()
        entities = {k: [v.lower() for v in vs] for k, vs in entities.items()}
    for values_ in entities.values():
        for value in values_:
            if value not in text:  # a wrong label must fail loudly
                raise AssertionError(f"label {value!r} lost from post {i}")
    marks = [values[slot] for slot in ("emo", "tag") if slot in slots]
    return ShortText(text=text, sentiment=post_sentiment(template, marks), entities=entities)


def _person(rng: random.Random, vocab: dict[str, tuple[str, ...]]) -> str:
    first, last = rng.choice(vocab["first_name"]), rng.choice(vocab["surname"])
    return rng.choices((f"{first} {last}", first, f"{first[0]}. {last}"), weights=(5, 4, 1))[0]


def _handle(rng: random.Random, vocab: dict[str, tuple[str, ...]]) -> str:
    # Handles are unlabelled (they address an account, they don't name a person in the text),
    # and many look like names squashed together: "mayaross", "leo_loves", "robo_rob".
    # Lower-case, so a handle never contains a capitalised label verbatim.
    first = re.sub(r"[^a-z]", "", rng.choice(vocab["first_name"]).lower())
    last = re.sub(r"[^a-z]", "", rng.choice(vocab["surname"]).lower())
    word = rng.choice(("the", "its", "real", "mr", "just", "team", "iam", "", "", ""))
    shape = rng.randrange(4)
    if shape == 0:
        handle = word + first
    elif shape == 1:
        handle = first + rng.choice(("", "_", ".")) + last
    elif shape == 2:
        handle = first + "_" + rng.choice(("loves", "official", "tweets", "music", "xo", "fan"))
    else:
        handle = first + last[:2]
    if rng.random() < 0.5:
        handle += rng.choice(("", "_", "x")) + str(rng.randint(1, 999))
    return handle


def _url(rng: random.Random) -> str:
    path = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(6))
    return f"http://{rng.choice(('sho.rt', 'lnk.example', 't.example'))}/{path}"


def examples(kind: str, rows: list[ShortText]) -> list[dict[str, Any]]:
    """Training rows in the same shape as the email rows of :mod:`models.synth.emails`."""
    if kind == "sentiment":
        return [{"text": r.text, "label": r.sentiment} for r in rows]
    return [{"text": r.text, "entities": r.entities} for r in rows]
