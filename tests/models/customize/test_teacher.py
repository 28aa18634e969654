"""The teacher rewrite: labels survive, bad rewrites fall back to the template text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from models.customize import teacher
from models.engines.base import AdapterInfo, Engine, GenerateRequest, GenerateResult

ROWS = [
    {"text": "My Zentrix 5 broke in Leeds. Priya Patel", "entities": {
        "name": ["Priya Patel"], "product": ["Zentrix 5"], "location": ["Leeds"]}},
    {"text": "Love the battery life, five stars.", "label": "positive"},
    {"text": "Where is my order? It was due Monday.", "entities": {
        "name": [], "product": [], "location": []}},
    {"text": "The kettle arrived on Friday.", "label": "neutral"},
]


class ScriptedTeacher(Engine):
    """Answers each prompt with the scripted rewrite of the row whose text it quotes."""

    name = "scripted"

    def __init__(self, answers: Mapping[str, tuple[str, str]]) -> None:
        self.answers = answers
        self.prompts: list[str] = []

    @property
    def base_model(self) -> str:
        return "teacher"

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def healthy(self) -> bool:
        return True

    def adapters(self) -> Mapping[str, AdapterInfo]:
        return {}

    async def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        results = []
        for request in requests:
            assert request.messages is not None
            prompt = request.messages[-1].content
            self.prompts.append(prompt)
            original = prompt.split("MESSAGE:\n", 1)[1].split("\n\n", 1)[0]
            text, reason = self.answers[original]
            results.append(GenerateResult(text, reason, 10, 10))
        return results


async def test_good_rewrites_replace_the_text_and_keep_labels() -> None:
    engine = ScriptedTeacher({
        ROWS[0]["text"]: ("Priya Patel here: the Zentrix 5 I got in Leeds is broken.", "stop"),
        ROWS[1]["text"]: ("Battery lasts for ages. Very happy!", "stop"),
        ROWS[2]["text"]: ("Could you tell me where my parcel is?", "stop"),
        ROWS[3]["text"]: ("Kettle came Friday.", "stop"),
    })
    out, stats = await teacher.rewrite(ROWS, engine)
    assert [r["source"] for r in out] == ["teacher"] * 4
    assert out[0]["text"].startswith("Priya Patel here")
    assert [r.get("label") for r in out] == [r.get("label") for r in ROWS]
    assert [r.get("entities") for r in out] == [r.get("entities") for r in ROWS]
    assert stats.as_dict() == {"rewritten": 4, "kept_template": 0, "rejected": {}}
    # The prompt names what must survive and the tone to keep.
    assert '"Priya Patel"; "Zentrix 5"; "Leeds"' in engine.prompts[0]
    assert "TONE: pleased" in engine.prompts[1]


async def test_failed_checks_keep_the_template_row() -> None:
    engine = ScriptedTeacher({
        ROWS[0]["text"]: ("Priya here: my Zentrix broke in Leeds.", "stop"),  # lost two entities
        ROWS[1]["text"]: ("ok", "stop"),  # too short
        ROWS[2]["text"]: ("Where is my order? " * 30, "stop"),  # too long
        ROWS[3]["text"]: ("The kettle turned up on Friday, but then", "length"),  # cut off
    })
    out, stats = await teacher.rewrite(ROWS, engine)
    assert [r["text"] for r in out] == [r["text"] for r in ROWS]
    assert {r["source"] for r in out} == {"template"}
    assert stats.rejected == {"lost_entity": 1, "too_short": 1, "too_long": 1, "cut_off": 1}


async def test_fraction_is_deterministic_and_bounded() -> None:
    rows = [{"text": f"Order number {i} is late again.", "label": "negative"} for i in range(200)]
    answers = {r["text"]: (r["text"].replace("late", "delayed"), "stop") for r in rows}
    first, stats = await teacher.rewrite(rows, ScriptedTeacher(answers), fraction=0.3, seed=5)
    again, _ = await teacher.rewrite(rows, ScriptedTeacher(answers), fraction=0.3, seed=5)
    assert first == again
    assert 30 < stats.rewritten < 90 and stats.rewritten + stats.kept_template == 200
    with pytest.raises(ValueError):
        await teacher.rewrite(rows, ScriptedTeacher(answers), fraction=1.5)


def test_delimiters_are_refused() -> None:
    assert teacher.check(ROWS[1], "Great <email> battery life") == "delimiters"
    assert teacher.check(ROWS[1], "Great battery life, honestly.") is None
