from __future__ import annotations

import pytest

from handlers.scoring import RubricCase, entities_report, rubric, rubric_report, sentiment_report


def test_sentiment_report_counts_invalid_output_as_wrong() -> None:
    report = sentiment_report(
        ["positive", "negative", "neutral", "negative"], ["positive", "neutral", "neutral", None]
    )
    assert report["accuracy"] == 0.5
    assert report["confusion"]["negative"] == {"positive": 0, "negative": 0, "neutral": 1, "invalid": 1}
    assert report["per_class"]["neutral"] == {"precision": 0.5, "recall": 1.0, "support": 1}
    assert report["per_class"]["negative"]["recall"] == 0.0


def test_entities_micro_f1_over_normalised_pairs() -> None:
    gold = [{"name": ["Ana Lopez"], "product": ["Nimbus X2", "AeroBlend"], "location": []}]
    predicted = [{"name": ["ana lopez."], "product": ["Nimbus X2"], "location": ["Porto"]}]
    report = entities_report(gold, predicted)
    assert report["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["per_field"]["location"]["precision"] == 0.0
    assert entities_report(gold, [None])["recall"] == 0.0


def test_rubric_checks_what_a_reviewer_checks() -> None:
    case = RubricCase("My AeroBlend broke", names=["Ana Lopez"], products=["AeroBlend"],
                      sentiment="negative")
    good = rubric(case, "Hi Ana, I'm sorry your AeroBlend broke. We will look into it.")
    assert all(good.values()) and set(good) >= {"name_used", "apology_when_negative"}
    bad = rubric(case, "Hello. Your refund of $50 for order #12345 arrives on 12/03/2026.")
    assert not bad["name_used"] and not bad["products_mentioned"]
    assert not bad["apology_when_negative"] and not bad["no_invented_facts"]
    assert not rubric(case, "word " * 200)["length_ok"]
    assert not any(rubric(case, None).values())
    pirate = RubricCase("Hi Ana", persona="pirate")
    assert rubric(pirate, "Ahoy Ana, matey! Fair winds.")["persona_markers"]
    assert not rubric(pirate, "Hello Ana.")["persona_markers"]
    report = rubric_report("reply", [good, bad])
    assert 0 < report["score"] < 1 and report["checks"]["name_used"] == 0.5


def test_a_label_report_takes_other_classes_and_misses_a_gold_label_outside_them() -> None:
    report = sentiment_report(["refund_status", "other", "warranty"],
                              ["refund_status", "warranty", None],
                              classes=["refund_status", "warranty"], task="topic")
    assert report["task"] == "topic" and report["n"] == 3
    assert report["accuracy"] == 0.3333  # one of three, rounded as every ratio here
    assert report["confusion"]["other"]["warranty"] == 1
    assert report["per_class"]["warranty"] == {"precision": 0.0, "recall": 0.0, "support": 1}
