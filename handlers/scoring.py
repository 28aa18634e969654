"""How good a task's outputs are: the figures `replyd eval` prints.

Sentiment: accuracy, per-class precision/recall, confusion matrix. Entities: micro precision,
recall and F1 over (field, normalised value) pairs. Reply and persona: a rubric of checks a
reviewer would make, each scored 0/1 where it applies, averaged.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.entities import normalise
from models.vocabulary import ENTITY_FIELDS, PERSONA_MARKERS, SENTIMENTS

MAX_REPLY_WORDS = 120
# Facts a draft cannot know: order/ticket numbers, money amounts, calendar dates, refund promises.
_INVENTED = re.compile(
    r"#\s?\d{3,}|\b(order|ticket|case|tracking)\s*(number|no\.?|id)?\s*[:#]?\s*[A-Z]*\d{4,}"
    r"|[$€£]\s?\d|\b\d+([.,]\d+)?\s?(usd|eur|gbp|dollars|euros|pounds)\b"
    r"|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b"
    r"|\b(january|february|march|april|may|june|july|august|september|october|november|december)"
    r"\s+\d{1,2}\b",
    re.IGNORECASE,
)
_APOLOGY = re.compile(r"\b(sorry|apolog)", re.IGNORECASE)


def sentiment_report(gold: Sequence[str], predicted: Sequence[str | None],
                     classes: Sequence[str] = SENTIMENTS, task: str = "sentiment"
                     ) -> dict[str, Any]:
    """Accuracy, per-class precision/recall and the confusion matrix (rows gold, cols predicted;
    a ``None`` prediction, i.e. unusable output, counts as wrong and shows under ``invalid``)
    of a label task: sentiment, or another's ``classes`` (the request adapter's cases)."""
    labels = list(classes)
    confusion = {g: dict.fromkeys([*labels, "invalid"], 0) for g in labels}
    for g, p in zip(gold, predicted, strict=True):  # a gold label outside them is always missed
        confusion.setdefault(g, dict.fromkeys([*labels, "invalid"], 0))
        confusion[g][p if p in labels else "invalid"] += 1
    per_class = {}
    for label in labels:
        tp = confusion[label][label]
        predicted_as = sum(confusion[g][label] for g in labels)
        actual = sum(confusion[label].values())
        per_class[label] = {
            "precision": _ratio(tp, predicted_as),
            "recall": _ratio(tp, actual),
            "support": actual,
        }
    correct = sum(confusion[label][label] for label in labels)
    return {
        "task": task,
        "n": len(gold),
        "accuracy": _ratio(correct, len(gold)),
        "per_class": per_class,
        "confusion": confusion,
    }


def entity_pairs(entities: Mapping[str, Sequence[str]]) -> set[tuple[str, str]]:
    """The (field, normalised value) pairs the entity figures count; empty values are dropped."""
    return {
        (field, normalise(value))
        for field in ENTITY_FIELDS
        for value in entities.get(field, [])
        if normalise(value)
    }


def entities_report(
    gold: Sequence[Mapping[str, Sequence[str]]],
    predicted: Sequence[Mapping[str, Sequence[str]] | None],
) -> dict[str, Any]:
    """Micro precision/recall/F1 over (field, normalised value) pairs, overall and per field."""
    counts: Counter[str] = Counter()
    for g, p in zip(gold, predicted, strict=True):
        gold_pairs, predicted_pairs = entity_pairs(g), entity_pairs(p or {})
        for field in ENTITY_FIELDS:
            gf = {pair for pair in gold_pairs if pair[0] == field}
            pf = {pair for pair in predicted_pairs if pair[0] == field}
            counts[f"{field}.tp"] += len(gf & pf)
            counts[f"{field}.fp"] += len(pf - gf)
            counts[f"{field}.fn"] += len(gf - pf)
    per_field = {field: _prf(counts, [field]) for field in ENTITY_FIELDS}
    return {"task": "entities", "n": len(gold), **_prf(counts, ENTITY_FIELDS),
            "per_field": per_field}


def _prf(counts: Counter[str], fields: Sequence[str]) -> dict[str, float]:
    tp = sum(counts[f"{f}.tp"] for f in fields)
    fp = sum(counts[f"{f}.fp"] for f in fields)
    fn = sum(counts[f"{f}.fn"] for f in fields)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1}


@dataclass(frozen=True, slots=True)
class RubricCase:
    """What a reply (or persona rewrite) is checked against."""

    source_text: str  # the customer email (reply) or the plain reply (persona)
    names: Sequence[str] = ()
    products: Sequence[str] = ()
    sentiment: str | None = None
    persona: str | None = None


def rubric(case: RubricCase, output: str | None) -> dict[str, bool]:
    """The checks that apply to this case, each True/False. Unusable output fails them all."""
    text = output or ""
    lowered = text.casefold()
    checks: dict[str, bool] = {"non_empty": bool(text.strip())}
    if case.names:
        first_names = {name.split()[0].casefold() for name in case.names if name.split()}
        checks["name_used"] = any(first in lowered for first in first_names)
    if case.products:
        checks["products_mentioned"] = all(p.casefold() in lowered for p in case.products)
    if case.sentiment == "negative":
        checks["apology_when_negative"] = bool(_APOLOGY.search(text))
    invented = [m.group(0) for m in _INVENTED.finditer(text) if m.group(0) not in case.source_text]
    checks["no_invented_facts"] = not invented
    checks["length_ok"] = 0 < len(text.split()) <= MAX_REPLY_WORDS
    if case.persona in PERSONA_MARKERS:
        markers = PERSONA_MARKERS[case.persona]
        found = sum(bool(re.search(rf"\b{marker}\b", lowered)) for marker in markers)
        checks["persona_markers"] = found >= 2
    if not text.strip():
        return dict.fromkeys(checks, False)
    return checks


def rubric_report(task: str, results: Sequence[Mapping[str, bool]]) -> dict[str, Any]:
    """Mean score (share of applicable checks passed) and the pass rate of each check."""
    per_check: dict[str, list[bool]] = {}
    scores = []
    for checks in results:
        scores.append(_ratio(sum(checks.values()), len(checks)))
        for name, ok in checks.items():
            per_check.setdefault(name, []).append(ok)
    return {
        "task": task,
        "n": len(results),
        "score": round(sum(scores) / len(scores), 4) if scores else 0.0,
        "checks": {name: _ratio(sum(v), len(v)) for name, v in sorted(per_check.items())},
    }


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0
