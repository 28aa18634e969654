"""Joint analysis rows: the sentiment and entities generators' own emails and labels, together."""

from __future__ import annotations

from collections import Counter

from models.synth.emails import analysis_examples, entity_examples, sentiment_examples


def test_emails_carry_the_labels_the_split_tasks_train_on() -> None:
    rows = analysis_examples(40, 1, "train")
    assert len(rows) == 40 and all(set(row) == {"text", "label", "entities"} for row in rows)
    emails = rows[0::2]
    # Email i is the same email, with the same labels, as in the split tasks' rows.
    assert [r["text"] for r in emails] == [r["text"] for r in sentiment_examples(40, 1)[0::2]]
    assert [r["label"] for r in emails] == [r["label"] for r in sentiment_examples(40, 1)[0::2]]
    assert [r["entities"] for r in emails] == [r["entities"] for r in entity_examples(40, 1)[0::2]]
    for row in rows:
        for values in row["entities"].values():
            assert all(value in row["text"] for value in values)


def test_reviews_name_nothing_and_balance_the_labels() -> None:
    rows = analysis_examples(60, 2, "eval")
    reviews = rows[1::2]
    assert all(not any(r["entities"].values()) for r in reviews)
    split = sentiment_examples(60, 2, "eval")[1::2]
    assert [r["text"] for r in reviews] == [r["text"] for r in split]
    counts = Counter(r["label"] for r in rows)
    assert set(counts) == {"positive", "negative", "neutral"} and min(counts.values()) >= 15


def test_a_shorter_set_is_a_prefix_of_a_longer_one() -> None:
    assert analysis_examples(7, 3) == analysis_examples(20, 3)[:7]
