"""Customer mail a teacher model wrote, each email labelled with the request it makes: training
rows for the request adapter (:mod:`handlers.topic_model`).

The generator builds its emails from phrase lists, and a reader trained on those alone reads
customer mail by those phrases: the first request adapter, trained on the generator only, was
right on 60 of 114 customer emails written blind, and named a case for every request outside
them. ``teacher_topic.jsonl`` holds 720 emails written by a teacher model (a language-model
session that saw neither this code, nor the generator, nor any customer set used for
evaluation), in four styles of 180: short phone mail with typos and slang; long letters with the
request after a story; angry, sarcastic and threaded replies with the shop's quoted message;
plain mail in British and American English, some in German, Spanish, French, Italian, Dutch or
Polish. Each makes one of the 15 cases' requests (10 per case and style), or one no case answers
(30 per style, label ``other``: a discount code, a quote, a job application ...). At least half
tell their case without its obvious word ("still nothing on my doorstep"), and many carry
another case's words in passing, as customers do.

A stable hash of subject and body puts one email in five in the eval split
(:data:`models.synth.splits.EVAL_MODULUS`), so an adapter is measured on teacher mail it did not
see, as well as on the customer sets.
"""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path
from typing import Any

from models.synth.splits import Split, check_split, is_eval_item

PATH = Path(__file__).with_name("teacher_topic.jsonl")
OTHER = "other"  # a request none of the cases answers
# Training rows: each teacher email counts this many times against the generator's emails.
REPEAT = 2


@functools.cache
def _rows() -> tuple[dict[str, str], ...]:
    rows = []
    for number, line in enumerate(PATH.read_text("utf-8").splitlines(), 1):
        row = json.loads(line)
        if set(row) != {"subject", "body", "label"}:
            raise ValueError(f"{PATH.name}:{number}: keys must be subject, body, label")
        rows.append({key: str(row[key]) for key in ("subject", "body", "label")})
    return tuple(rows)


def teacher_rows(split: Split) -> list[dict[str, str]]:
    """The teacher's emails of ``split`` as rows ``{"subject", "body", "label"}``, file order."""
    check_split(split)
    return [dict(row) for row in _rows()
            if is_eval_item(f"{row['subject']}\n{row['body']}") == (split == "eval")]


def mixed(rows: list[dict[str, Any]], split: Split, seed: int) -> list[dict[str, Any]]:
    """``rows`` (the generator's) with the teacher's rows of ``split`` (:data:`REPEAT` times each
    in training, once for eval), shuffled together by ``seed``."""
    repeat = REPEAT if split == "train" else 1
    out = [*rows, *(row for _ in range(repeat) for row in teacher_rows(split))]
    random.Random(f"replyd-teacher/{seed}/{split}").shuffle(out)
    return out
