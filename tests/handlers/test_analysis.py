"""The joint analysis task: prompt, answer line, parser, and the pipeline's joint first stage."""

from __future__ import annotations

import json
import re

import pytest

from handlers import analysis, entities, sentiment
from handlers.pipeline import Pipeline, PipelineConfig
from handlers.types import DraftText, EmailText, Entities, TaskFailure
from models.engines.base import GenerateRequest, GenerateResult
from models.errors import ConfigurationError, OutputError
from models.vocabulary import ENTITY_FIELDS, SENTIMENTS, STAGE_TASKS, TASKS
from tests.handlers.fakes import ScriptedEngine, result

EMAIL = EmailText("<a@x>", "Late", "I'm Ana Lopez in Porto. My Nimbus X2 is late, very annoyed.")


def test_analysis_topic_and_steering_are_adapter_tasks_but_not_stages() -> None:
    assert "analysis" in TASKS and "analysis" not in STAGE_TASKS
    assert set(STAGE_TASKS) == set(TASKS) - {"analysis", "topic", "steering"}


def test_the_prompt_quotes_the_email_once_and_asks_for_both() -> None:
    messages = analysis.messages(EMAIL)
    assert [m.role for m in messages] == ["system", "user"]
    assert "sentiment" in messages[0].content and "|location: places" in messages[0].content
    assert messages[1].content.count(EMAIL.body) == 1
    assert messages[1].content.startswith("<email>") and messages[1].content.endswith("Answer:")
    # Few-shot turns pair an example with its answer, the email last.
    shot = (EmailText("e", "", "Hi, Bo here."), analysis.answer("neutral", {"name": ["Bo"]}))
    with_shot = analysis.messages(EMAIL, [shot])
    assert [m.role for m in with_shot] == ["system", "user", "assistant", "user"]
    assert with_shot[2].content == shot[1]


def test_the_constraint_is_the_label_set_then_the_entity_fields() -> None:
    request = analysis.build_request(EMAIL, "cid-a")
    assert request.adapter == "cid-a" and request.constraint == analysis.CONSTRAINT
    pattern = re.compile(analysis.CONSTRAINT.regex or "")
    for label in SENTIMENTS:
        assert pattern.fullmatch(
            f"{label}|name: Ana Lopez|product: Nimbus X2; AeroBlend 500|location: Porto")
        assert pattern.fullmatch(f"{label}|name:|product:|location:")
    for text in ("angry|name:|product:|location:", "negative|name:|product:",
                 "negative|name:|location:|product:", "negative|name:|product:|location:|",
                 "negative|name: a\nb|product:|location:", "Negative|name:|product:|location:",
                 "negative|||", '{"sentiment":"negative"}'):
        assert not pattern.fullmatch(text), text
    assert len(ENTITY_FIELDS) == 3  # the regex has one field per entity field
    # The entities task's bound: entity lists are no longer than there.
    assert request.sampling.max_tokens == entities.SAMPLING.max_tokens
    assert request.sampling.temperature == 0.0


def test_the_answer_is_one_line_in_field_order() -> None:
    text = analysis.answer("negative", {"location": ["Porto"], "name": ["Ana Lopez"]})
    assert text == "negative|name: Ana Lopez|product:|location: Porto"
    assert analysis.answer("neutral", {}) == "neutral|name:|product:|location:"
    assert analysis.answer("positive", {"product": ["Nimbus X2", "AeroBlend 500"]}) == (
        "positive|name:|product: Nimbus X2; AeroBlend 500|location:")
    # A separator inside a value cannot break the line apart.
    assert analysis.answer("neutral", {"name": ["A|B;\nC"]}) == (
        "neutral|name: A B C|product:|location:")
    with pytest.raises(ValueError, match="sentiment"):
        analysis.answer("angry", {})
    assert re.fullmatch(analysis.CONSTRAINT.regex or "", text)


def _result(data: object) -> GenerateResult:
    if isinstance(data, str):
        return result(data)
    assert isinstance(data, dict)
    return result(analysis.answer(data["sentiment"], data))


def test_parse_validates_both_halves_like_the_split_parsers() -> None:
    found = {"name": ["Ana Lopez", "Lisbon"], "product": ["nimbus x2."], "location": ["Porto"]}
    mood, facts = analysis.parse(_result({"sentiment": "negative", **found}), EMAIL)
    assert mood == "negative"
    # Same outcome as the entities parser on the same lists: spans only, normalised once.
    assert facts == entities.parse(result(json.dumps(found)), EMAIL)
    assert facts == Entities(name=("Ana Lopez",), product=("nimbus x2",), location=("Porto",))
    # The sentiment parser's leniency (case, a trailing full stop) carries over, and so does
    # space around the separators.
    assert analysis.parse(result("Positive.|name:|product:|location:"), EMAIL)[0] == "positive"
    assert analysis.parse(result(" negative| name:Ana Lopez ;Porto |product: |location:"),
                          EMAIL)[1] == Entities(name=("Ana Lopez", "Porto"))


@pytest.mark.parametrize("text", [
    "{oops",
    "",
    '{"sentiment": "negative", "name": [], "product": [], "location": []}',
    "angry|name:|product:|location:",
    "negative|name:|product:",
    "negative|name:|product:|location:|",
    "negative|name:|location: Porto|product:",
    "negative|Ana Lopez||Porto",
    "negative|name: Ana Lopez",
])
def test_parse_rejects_what_either_half_rejects(text: str) -> None:
    with pytest.raises(OutputError):
        analysis.parse(result(text), EMAIL)


def test_an_answer_cut_at_its_bound_keeps_its_sentiment_and_no_entities() -> None:
    cut = "negative|name: aaa; bbb; ccc"
    mood, facts = analysis.parse(result(cut, finish_reason="length"), EMAIL)
    assert (mood, facts) == ("negative", Entities())
    # All four fields there, the last one cut: its value may be a fragment, so none are kept.
    whole = "negative|name: Ana Lopez|product: Nimbus X2|location: Por"
    assert analysis.parse(result(whole, finish_reason="length"), EMAIL) == (
        "negative", Entities())
    # Only a cut answer is forgiven: the same text that stopped on its own is broken output,
    # and a cut answer without a sentiment is too.
    with pytest.raises(OutputError):
        analysis.parse(result(cut), EMAIL)
    with pytest.raises(OutputError):
        analysis.parse(result("|name: aaa; bb", finish_reason="length"), EMAIL)
    with pytest.raises(OutputError):
        analysis.parse(result("angry|name: a", finish_reason="length"), EMAIL)


def test_parse_keeps_the_handle_rule() -> None:
    email = EmailText("<h@x>", "", "@ana_lopez my Nimbus X2 broke")
    _, facts = analysis.parse(_result({"sentiment": "negative", "name": ["ana_lopez"],
                                       "product": ["Nimbus X2"], "location": []}), email)
    assert facts.name == () and facts.product == ("Nimbus X2",)


# --- the pipeline's joint first stage ------------------------------------------------------------

EMAILS = [
    EMAIL,
    EmailText("<b@x>", "Thanks", "Love the AeroBlend 500, thank you!"),
    EmailText("<c@x>", "Q", "BROKEN-OUTPUT please"),
]


def joint_script(request: GenerateRequest) -> GenerateResult:
    assert request.messages is not None
    user = request.messages[-1].content
    if request.constraint == analysis.CONSTRAINT:
        if "BROKEN-OUTPUT" in user:
            return result("positive|name: Ana Lopez")
        mood = "negative" if "annoyed" in user else "positive"
        return result(analysis.answer(mood, {"name": ["Ana Lopez"], "product": ["AeroBlend 500"]}))
    if request.constraint is not None:
        raise AssertionError("joint mode sent a split-stage request")
    return result(f"Reply for {user.splitlines()[0]}")


async def test_joint_mode_sends_one_request_per_email_in_stage_one() -> None:
    engine = ScriptedEngine(joint_script)
    config = PipelineConfig(adapters={"analysis": "cid-a", "sentiment": "cid-a",
                                      "entities": "cid-a"},
                            analysis="joint", check_drafts=False)
    batch = await Pipeline(engine, config).run(EMAILS)
    assert [len(call) for call in engine.calls] == [3, 2]
    stage_one = engine.calls[0]
    assert all(r.adapter == "cid-a" and r.constraint == analysis.CONSTRAINT for r in stage_one)
    first, second, third = batch.outcomes
    assert isinstance(first, DraftText) and first.sentiment == "negative"
    assert first.entities.name == ("Ana Lopez",) and first.entities.product == ()
    assert isinstance(second, DraftText) and second.sentiment == "positive"
    assert second.entities.name == () and second.entities.product == ("AeroBlend 500",)
    assert isinstance(third, TaskFailure)
    assert (third.reason, third.task) == ("engine_output", "analysis")
    # One request's tokens per email in stage 1 (the fake counts 10 prompt tokens a request).
    assert batch.usage_by_task["analysis"].prompt_tokens == 30
    assert first.usage.prompt_tokens == 20  # stage 1 + the reply
    assert set(batch.stage_seconds) == {"analysis", "reply"}


async def test_split_mode_is_unchanged_two_requests_per_email() -> None:
    def split_script(request: GenerateRequest) -> GenerateResult:
        if request.constraint == sentiment.CONSTRAINT:
            return result("neutral")
        if request.constraint == entities.CONSTRAINT:
            return result(entities.answer({}))
        return result("Reply")

    engine = ScriptedEngine(split_script)
    batch = await Pipeline(engine, PipelineConfig(check_drafts=False)).run(EMAILS[:2])
    assert [len(call) for call in engine.calls] == [4, 2]
    assert set(batch.stage_seconds) == {"sentiment+entities", "reply"}


async def test_joint_mode_adds_the_display_name_like_the_split_stage() -> None:
    email = EmailText("<d@x>", "", "My Nimbus X2 is late.", from_name="Dana Ross")
    engine = ScriptedEngine(joint_script)
    config = PipelineConfig(analysis="joint", check_drafts=False)
    batch = await Pipeline(engine, config).run([email])
    (draft,) = batch.outcomes
    assert isinstance(draft, DraftText) and draft.entities.name == ("Dana Ross",)


def test_joint_config_is_validated() -> None:
    with pytest.raises(ConfigurationError, match="not a task"):
        PipelineConfig(tasks=("sentiment", "analysis", "reply"))
    with pytest.raises(ConfigurationError, match="needs the 'entities' task"):
        PipelineConfig(tasks=("sentiment", "reply"), analysis="joint")
    with pytest.raises(ConfigurationError, match="'split' or 'joint'"):
        PipelineConfig(analysis="both")
    assert PipelineConfig(analysis="joint").analysis == "joint"
