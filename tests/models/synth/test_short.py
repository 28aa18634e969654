"""Review snippets and social posts: labels by construction, splits, determinism."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from models.synth import email_lists as L
from models.synth import short
from models.synth import short_lists as S
from models.synth.splits import split_items

N = 600


@pytest.fixture(scope="module")
def reviews() -> list[short.ShortText]:
    return short.generate_reviews(N, seed=4)


@pytest.fixture(scope="module")
def posts() -> list[short.ShortText]:
    return short.generate_posts(N, seed=4)


def _has_phrase(text: str, phrases: tuple[str, ...]) -> list[str]:
    low = text.lower()
    # "not great" is a negative opinion, not a positive one
    return [p for p in phrases
            if re.search(rf"(?<!not )(?<![\w-]){re.escape(p.lower())}(?![\w-])", low)]


def test_reviews_are_balanced_and_deterministic(reviews: list[short.ShortText]) -> None:
    counts = Counter(r.sentiment for r in reviews)
    assert counts == {"positive": N // 3, "negative": N // 3, "neutral": N // 3}
    assert short.generate_reviews(N, seed=4) == reviews
    assert short.generate_reviews(50, seed=4) == reviews[:50]  # a prefix
    assert short.generate_reviews(50, seed=5) != reviews[:50]


def test_opinion_words_follow_the_label(reviews: list[short.ShortText]) -> None:
    for review in reviews:
        pos, neg = _has_phrase(review.text, S.POSITIVE_WORDS), _has_phrase(review.text,
                                                                           S.NEGATIVE_WORDS)
        if review.sentiment == "neutral":
            assert not pos and not neg, review.text
        if review.sentiment == "positive":
            assert not neg, review.text
        if review.sentiment == "negative":
            assert not pos, review.text


def test_reviews_vary_in_style(reviews: list[short.ShortText]) -> None:
    texts = [r.text for r in reviews]
    assert len(set(texts)) > 0.95 * N
    assert sum(t == t.lower() for t in texts) > N // 5  # lower-case writers
    assert sum(t.endswith("!") for t in texts) > 10


def test_post_entities_are_exact_substrings(posts: list[short.ShortText]) -> None:
    for post in posts:
        assert set(post.entities) == {"name", "product", "location"}
        for values in post.entities.values():
            for value in values:
                assert value in post.text


def test_about_a_third_of_posts_name_nothing(posts: list[short.ShortText]) -> None:
    empty = sum(not any(p.entities.values()) for p in posts)
    assert 0.2 * N < empty < 0.45 * N
    # Products are the rarest field in posts, as in real ones.
    for field, least in (("name", N // 4), ("product", N // 12), ("location", N // 6)):
        assert sum(bool(p.entities[field]) for p in posts) > least, field


def test_distractors_are_never_labelled(posts: list[short.ShortText]) -> None:
    distractors = {d.casefold() for d in S.COMPANIES + S.EVENTS + S.SHOWS + S.TEAMS + S.BANDS}
    seen = 0
    for post in posts:
        labels = {v.casefold() for vs in post.entities.values() for v in vs}
        assert not labels & distractors
        seen += any(d in post.text.casefold() for d in distractors)
    assert seen > N // 10


def test_eval_posts_use_only_eval_items() -> None:
    train_items = {x.casefold() for key in ("first_name", "surname", "location")
                   for x in split_items(getattr(L, {"first_name": "FIRST_NAMES",
                                                     "surname": "SURNAMES",
                                                     "location": "LOCATIONS"}[key]), "train")}
    train_items |= {x.casefold() for x in split_items(S.BRANDED_PRODUCTS, "train")}
    train_items |= {x.casefold() for x in split_items(L.DEVICES, "train")}
    for post in short.generate_posts(300, seed=1, split="eval"):
        for field, values in post.entities.items():
            for value in values:
                parts = [value.lstrip("#")] if field != "name" else value.split()
                for part in parts:
                    if field == "location":
                        assert part.casefold() not in {t.replace(" ", "") for t in train_items}
                    elif field == "product":
                        assert part.casefold() not in train_items
                    else:
                        assert part.casefold().rstrip(".") not in train_items or len(part) <= 2


def test_branded_products_are_unique_and_clash_with_nothing() -> None:
    items = S.BRANDED_PRODUCTS
    assert len(set(items)) == len(items) >= 50
    others = L.DEVICES + L.PLANS + L.LOCATIONS + L.FIRST_NAMES + L.SURNAMES + S.COMPANIES
    for item in items:
        for other in others:
            assert not _has_phrase(other, (item,)) and not _has_phrase(item, (other,))


def test_generators_leave_global_random_alone() -> None:
    random.seed(123)
    expected = random.random()
    random.seed(123)
    short.generate_posts(20, seed=9)
    short.generate_reviews(20, seed=9)
    assert random.random() == expected


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        short.generate_posts(-1)
    with pytest.raises(ValueError):
        short.generate_reviews(3, split="test")
