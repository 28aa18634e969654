"""`replyd synth`: each task's training or eval rows from the generator (and the teacher's mail,
where a task has it), written as JSONL."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from typing import Any

from models.synth.emails import (
    analysis_examples,
    entity_examples,
    persona_examples,
    reply_examples,
    sentiment_examples,
    topic_examples,
)
from models.synth.splits import Split, check_split
from models.synth.teacher_injections import steering_examples
from models.vocabulary import Task

_BUILDERS: dict[str, Callable[[int, int, Split], list[dict[str, Any]]]] = {
    "sentiment": sentiment_examples, "entities": entity_examples, "reply": reply_examples,
    "persona": persona_examples, "analysis": analysis_examples, "topic": topic_examples,
    "steering": steering_examples,
}


def write_dataset(task: Task, n: int, seed: int, split: str, out: pathlib.Path,
                  more_cases: bool = False, added: bool = False, paraphrased: bool = False) -> int:
    """Write ``task``'s rows as JSONL (``more_cases``, ``added``, ``paraphrased``: reply only);
    returns the count. ``n`` is the generator's emails (steering: its attacks, the other parts
    in proportion; :func:`models.synth.teacher_injections.steering_examples`)."""
    if task not in _BUILDERS:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(_BUILDERS)}")
    if (more_cases or added or paraphrased) and task != "reply":
        raise ValueError("more_cases and paraphrased apply to reply rows only")
    check_split(split)
    rows = (reply_examples(n, seed, split, more_cases, added, paraphrased)  # type: ignore[arg-type]
            if task == "reply" else _BUILDERS[task](n, seed, split))  # type: ignore[arg-type]
    (out := pathlib.Path(out)).parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), "utf-8")
    return len(rows)
