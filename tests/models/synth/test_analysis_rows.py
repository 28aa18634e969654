"""Joint analysis rows: the split tasks' own emails, reviews and posts, each with both labels."""

from __future__ import annotations

from collections import Counter

from models.synth import short
from models.synth.emails import analysis_examples, entity_examples, sentiment_examples
from models.synth.post_sentiment import (
    NEGATIVE_TEMPLATES,
    POSITIVE_TEMPLATES,
    UNLABELLED_TEMPLATES,
    post_sentiment,
)
from models.synth.short_lists import POSTS_WITH_ENTITIES, POSTS_WITHOUT_ENTITIES


def test_emails_carry_the_labels_the_split_tasks_train_on() -> None:
    rows = analysis_examples(60, 1, "train")
    assert len(rows) == 60 and all(set(row) == {"text", "label", "entities"} for row in rows)
    emails = rows[0::3]
    # Email i is the same email, with the same labels, as in the split tasks' rows.
    split_sentiment = sentiment_examples(40, 1)[0::2]
    assert [r["text"] for r in emails] == [r["text"] for r in split_sentiment]
    assert [r["label"] for r in emails] == [r["label"] for r in split_sentiment]
    assert [r["entities"] for r in emails] == [r["entities"] for r in entity_examples(40, 1)[0::2]]
    for row in rows:
        assert row["label"] in {"positive", "negative", "neutral"}
        for values in row["entities"].values():
            assert all(value in row["text"] for value in values)


def test_reviews_name_nothing_and_posts_keep_their_entities() -> None:
    rows = analysis_examples(90, 2, "eval")
    reviews, posts = rows[1::3], rows[2::3]
    assert all(not any(r["entities"].values()) for r in reviews)
    split_reviews = sentiment_examples(60, 2, "eval")[1::2]
    assert [r["text"] for r in reviews] == [r["text"] for r in split_reviews]
    # The posts are the entities task's posts (those with a label), entities unchanged.
    by_text = {p.text: p.entities for p in short.generate_posts(200, 2, "eval")}
    assert all(by_text[p["text"]] == p["entities"] for p in posts)
    assert sum(any(p["entities"].values()) for p in posts) > len(posts) // 2
    counts = Counter(r["label"] for r in rows)
    assert set(counts) == {"positive", "negative", "neutral"} and min(counts.values()) >= 15


def test_a_shorter_set_is_a_prefix_of_a_longer_one() -> None:
    assert analysis_examples(7, 3) == analysis_examples(20, 3)[:7]
    assert len(analysis_examples(0, 3)) == 0


def test_every_post_template_has_a_known_tone() -> None:
    templates = set(POSTS_WITH_ENTITIES) | set(POSTS_WITHOUT_ENTITIES)
    listed = POSITIVE_TEMPLATES | NEGATIVE_TEMPLATES | UNLABELLED_TEMPLATES
    assert listed <= templates  # a typo in the tone lists would silently label nothing
    assert not POSITIVE_TEMPLATES & NEGATIVE_TEMPLATES


def test_marks_give_a_neutral_post_its_polarity_and_contradictions_no_label() -> None:
    neutral = "Greetings from {place} ! {emo}"
    assert post_sentiment(neutral, ["!!"]) == "neutral"
    assert post_sentiment(neutral, [":)"]) == "positive"
    assert post_sentiment(neutral, [":("]) == "negative"
    assert post_sentiment("had a great day with {person} in {place} {emo}", [":("]) is None
    assert post_sentiment("Flight to {place} delayed again ... {tag}", ["#blessed"]) is None
    assert post_sentiment("Flight to {place} delayed again ... {tag}", ["#travel"]) == "negative"
    assert post_sentiment("Praying for everyone affected by the storm", []) is None
