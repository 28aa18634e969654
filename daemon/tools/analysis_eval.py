"""Scoring the joint analysis adapter against the split stage's figures.

A row may carry a sentiment ``label``, ``entities``, or both: the sentiment and entities eval
files (and the real-text corpora, each labelled for one task) score the joint adapter on exactly
the rows the two split adapters are scored on, so the figures compare one to one. Sentiment
accuracy counts over rows with a label, entity micro-F1 over rows with entities; an output the
parser rejects counts as wrong for the rows' every figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from daemon.tools.jsonl import read_jsonl
from handlers import analysis as analysis_handler
from handlers import scoring
from handlers.types import SENTIMENTS, EmailText, Entities
from models.engines.base import GenerateRequest, GenerateResult
from models.errors import ConfigurationError, OutputError


def _email(text: str) -> EmailText:
    return EmailText(message_id="eval", subject="", body=text)


def parse_rows(rows: Sequence[Mapping[str, Any]],
               results: Sequence[GenerateResult]) -> list[tuple[str, Entities] | None]:
    """Each result parsed against its row's text; ``None`` where the parser rejects it."""
    parsed: list[tuple[str, Entities] | None] = []
    for row, result in zip(rows, results, strict=True):
        try:
            parsed.append(analysis_handler.parse(result, _email(row["text"])))
        except OutputError:
            parsed.append(None)
    return parsed


def score(rows: Sequence[Mapping[str, Any]], results: Sequence[GenerateResult]) -> dict[str, Any]:
    """Sentiment accuracy and entity micro-F1 (with precision, recall, exact match) of the
    joint adapter's outputs, each over the rows labelled for it, and the parse-failure count."""
    parsed = parse_rows(rows, results)
    figures: dict[str, Any] = {"examples": len(rows),
                               "parse_failures": sum(p is None for p in parsed)}
    labelled = [(row["label"], p) for row, p in zip(rows, parsed, strict=True) if "label" in row]
    if labelled:
        correct = sum(p is not None and p[0] == label for label, p in labelled)
        figures.update(accuracy=round(correct / len(labelled), 4), accuracy_examples=len(labelled))
    with_entities = [(row["entities"], p) for row, p in zip(rows, parsed, strict=True)
                     if "entities" in row]
    if with_entities:
        gold = [g for g, _ in with_entities]
        found = [None if p is None else p[1].as_dict() for _, p in with_entities]
        report = scoring.entities_report(gold, found)
        exact = sum(scoring.entity_pairs(g) == scoring.entity_pairs(f or {})
                    for g, f in zip(gold, found, strict=True))
        figures.update(micro_f1=report["f1"], precision=report["precision"],
                       recall=report["recall"], exact_match=round(exact / len(gold), 4),
                       f1_examples=len(gold))
    return figures


def report(rows: Sequence[Mapping[str, Any]],
           predictions: Sequence[tuple[str, dict[str, list[str]]] | None]) -> dict[str, Any]:
    """`replyd eval --task analysis`: the split tasks' own reports (``scoring.sentiment_report``
    over the rows with a label, ``scoring.entities_report`` over the rows with entities), so each
    half reads exactly like ``--task sentiment`` / ``--task entities`` on the same file."""
    result: dict[str, Any] = {"task": "analysis", "n": len(rows),
                              "parse_failures": sum(p is None for p in predictions)}
    labelled = [(row["label"], p) for row, p in zip(rows, predictions, strict=True)
                if "label" in row]
    if labelled:
        sentiment = scoring.sentiment_report([g for g, _ in labelled],
                                             [None if p is None else p[0] for _, p in labelled])
        result.update(accuracy=sentiment["accuracy"], sentiment=sentiment)
    found = [(row["entities"], p) for row, p in zip(rows, predictions, strict=True)
             if "entities" in row]
    if found:
        entities = scoring.entities_report([g for g, _ in found],
                                           [None if p is None else p[1] for _, p in found])
        result.update(f1=entities["f1"], entities=entities)
    return result


def check_row(row: Mapping[str, Any]) -> str | None:
    """Why ``row`` cannot be scored for analysis, or None: it needs a text and a sentiment
    ``label``, ``entities``, or both."""
    if "text" not in row:
        return "missing ['text']"
    if "label" not in row and "entities" not in row:
        return "needs a 'label', 'entities' or both"
    if "label" in row and row["label"] not in SENTIMENTS:
        return f"label must be one of {SENTIMENTS}"
    if "entities" in row and not isinstance(row["entities"], dict):
        return "entities must be an object"
    return None


def load_examples(path: Path) -> list[dict[str, Any]]:
    """Every row of ``path``, checked up front (:func:`check_row`), so a bad file fails before
    the engine starts."""
    examples = []
    for number, example in read_jsonl(path):
        if (why := check_row(example)) is not None:
            raise ConfigurationError(f"{path}:{number}: {why}")
        examples.append(example)
    if not examples:
        raise ConfigurationError(f"{path} holds no examples")
    return examples


def parse_one(row: Mapping[str, Any], result: GenerateResult
              ) -> tuple[str, dict[str, list[str]]]:
    """One prediction as JSON-ready values (``OutputError`` when the output is unusable)."""
    sentiment, found = analysis_handler.parse(result, _email(row["text"]))
    return sentiment, found.as_dict()


def build_one(row: Mapping[str, Any], adapter: str | None,
              shots: Sequence[tuple[EmailText, str]] = ()) -> GenerateRequest:
    return analysis_handler.build_request(_email(row["text"]), adapter, shots)
