"""A teacher model rewrites synthetic examples, keeping their labels true.

The template generator knows every label by construction but writes in a limited set of
phrasings. A larger model behind any OpenAI-compatible endpoint (``replyd synth --teacher-url``,
e.g. a vLLM server) can rewrite each example in its own words. The labels stay those of the
template example, so the teacher is told what must survive, and every rewrite is checked before
it replaces the original:

* every labelled entity string still occurs verbatim (case-sensitive), and no other field's
  strings were dropped;
* the rewrite is non-empty, not a refusal-length stub, at most three times the original length
  and free of our prompt delimiters.

A rewrite that fails a check is discarded and the template example kept, so the output always
has exactly the input's rows and labels; the counts of each outcome are returned for the
dataset's generator record. Sentiment cannot be checked mechanically: the teacher is asked to
keep the tone, and ``--teacher-fraction`` keeps part of the set as template text.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from models.engines.base import Engine, GenerateRequest, Message, SamplingParams
from models.progress import Progress
from models.vocabulary import EMAIL_CLOSE, EMAIL_OPEN

SYSTEM = (
    "You rewrite customer messages for a training set. Write the same message as a different "
    "customer would: other wording and sentence order, same facts, same tone. Keep every string "
    "listed under KEEP exactly as written, letter for letter. Output only the rewritten message."
)
TONES = {"positive": "pleased", "negative": "unhappy", "neutral": "matter-of-fact, no emotion"}


@dataclass(slots=True)
class TeacherStats:
    """What happened to each row."""

    rewritten: int = 0
    kept_template: int = 0  # not sent (outside --teacher-fraction)
    rejected: dict[str, int] = field(default_factory=dict)  # check that failed -> count

    def as_dict(self) -> dict[str, Any]:
        return {"rewritten": self.rewritten, "kept_template": self.kept_template,
                "rejected": dict(sorted(self.rejected.items()))}


def _keep_strings(row: dict[str, Any]) -> list[str]:
    entities = row.get("entities") or {}
    return [v for values in entities.values() for v in values]


def request_for(row: dict[str, Any], max_tokens: int = 384, seed: int = 0) -> GenerateRequest:
    """The chat request asking the teacher to rewrite one row's ``text``."""
    keep = _keep_strings(row)
    lines = [f"MESSAGE:\n{row['text']}"]
    if "label" in row:
        lines.append(f"TONE: {TONES[row['label']]}")
    lines.append("KEEP: " + ("; ".join(f'"{k}"' for k in keep) if keep else "(nothing)"))
    sampling = SamplingParams(max_tokens=max_tokens, temperature=0.8, top_p=0.95, seed=seed)
    return GenerateRequest(
        messages=(Message("system", SYSTEM), Message("user", "\n\n".join(lines))),
        sampling=sampling,
    )


def check(row: dict[str, Any], rewrite: str) -> str | None:
    """Why ``rewrite`` cannot replace ``row['text']``, or None when it can."""
    text = rewrite.strip()
    if len(text) < 12:
        return "too_short"
    if len(text) > 3 * max(len(row["text"]), 40):
        return "too_long"
    if EMAIL_OPEN in text or EMAIL_CLOSE in text:
        return "delimiters"
    if any(k not in text for k in _keep_strings(row)):
        return "lost_entity"
    return None


async def rewrite(
    rows: Sequence[dict[str, Any]],
    engine: Engine,
    *,
    fraction: float = 1.0,
    seed: int = 0,
    batch_size: int = 32,
    progress: bool = False,
) -> tuple[list[dict[str, Any]], TeacherStats]:
    """``rows`` with ``text`` rewritten by ``engine`` where the rewrite passes :func:`check`.

    Which rows are sent is decided by ``seed`` alone (a fraction ``fraction`` of them), so a
    rerun against the same deterministic teacher gives the same set. Each output row gains
    ``"source": "teacher" | "template"``. ``progress``: count the rows sent (models.progress;
    a live line on a terminal only), for a large set against a remote teacher takes a while.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], got {fraction}")
    rng = random.Random(f"replyd-teacher/{seed}")
    chosen = [i for i in range(len(rows)) if rng.random() < fraction]
    stats = TeacherStats(kept_template=len(rows) - len(chosen))
    out = [dict(row, source="template") for row in rows]
    counter = Progress("synth teacher", total=len(chosen), unit="rows") if progress else None
    with counter or contextlib.nullcontext():
        for start in range(0, len(chosen), batch_size):
            indices = chosen[start:start + batch_size]
            await _rewrite_batch(rows, indices, engine, seed, out, stats)
            if counter is not None:
                counter.advance(len(indices))
    return out, stats


async def _rewrite_batch(rows: Sequence[dict[str, Any]], indices: list[int], engine: Engine,
                         seed: int, out: list[dict[str, Any]], stats: TeacherStats) -> None:
    """Send one batch of the chosen rows; keep each rewrite that passes :func:`check`."""
    requests = [request_for(rows[i], seed=seed * 1_000_003 + i) for i in indices]
    results = await engine.generate(requests)
    for i, result in zip(indices, results, strict=True):
        reason = check(rows[i], result.text)
        if reason is None and result.finish_reason == "length":
            reason = "cut_off"
        if reason is None:
            out[i]["text"] = result.text.strip()
            out[i]["source"] = "teacher"
            stats.rewritten += 1
        else:
            stats.rejected[reason] = stats.rejected.get(reason, 0) + 1
