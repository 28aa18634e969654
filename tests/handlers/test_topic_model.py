"""The request adapter's prompt, parser and how its read joins the word reader's."""

from __future__ import annotations

import re

import pytest

from handlers import topic, topic_model
from handlers.pipeline import Pipeline, PipelineConfig
from handlers.topic_model import disputes
from handlers.types import DraftText, EmailText
from models.engines.base import GenerateRequest, GenerateResult
from models.errors import OutputError
from tests.handlers.fakes import ScriptedEngine, result


def _email(subject: str, body: str) -> EmailText:
    return EmailText("<m@x>", subject, body, request=topic.label(subject, body))


def test_the_constraint_admits_every_case_label_and_nothing_else() -> None:
    pattern = re.compile(topic_model.CONSTRAINT.regex or "")
    assert all(pattern.fullmatch(label) for label in topic.LABELS.values())
    assert not pattern.fullmatch("a discount code")


def test_the_answer_parses_to_its_case_and_anything_else_is_an_output_error() -> None:
    assert topic_model.parse(result("refund not received")) == "refund_status"
    assert topic_model.parse(result(" cannot log in.")) == "login_problem"
    with pytest.raises(OutputError):
        topic_model.parse(result("unclear"))


def test_a_training_row_quotes_the_new_text_and_answers_with_the_label() -> None:
    row = {"subject": "Re: Help", "label": "warranty",
           "body": "Is it still covered?\n\nOn Mon, 1 Jan 2024, Support wrote:\n> Hello"}
    messages, completion = topic_model.render(row)
    assert completion == "warranty"
    assert "Is it still covered?" in messages[-1].content
    assert "> Hello" not in messages[-1].content
    assert messages[-1].content.endswith("\nRequest:")


def test_words_and_adapter_agreeing_dispute_nothing() -> None:
    email = _email("Refund", "I returned the kettle a month ago and my refund still hasn't come.")
    assert topic.case_of(email.request) == "refund_status"
    assert not disputes(email, "refund_status")


def test_a_case_the_words_name_and_another_read_are_a_dispute() -> None:
    email = _email("Refund", "I returned the kettle a month ago and my refund still hasn't come.")
    assert disputes(email, "late_delivery")


def test_an_email_the_words_leave_unclear_is_never_disputed() -> None:
    # The adapter names a case for anything; only a case the words name can be disputed.
    email = _email("RD-88213", "Six days at the sorting hub now and the courier won't answer.")
    assert email.request == topic.UNCLEAR
    assert not disputes(email, "late_delivery")


def test_no_read_disputes_nothing() -> None:
    email = _email("Refund", "I returned the kettle a month ago and my refund still hasn't come.")
    assert not disputes(email, None)


def _script(read: str):  # type: ignore[no-untyped-def]
    def script(request: GenerateRequest) -> GenerateResult:
        constraint = request.constraint
        if constraint is not None and constraint.choices is not None:
            return result("negative")
        if constraint is not None and constraint.regex == topic_model.CONSTRAINT.regex:
            return result(read)
        if constraint is not None:
            return result('{"name":[],"product":[],"location":[]}')
        return result("Hello,\n\nThank you for your message.\n\nBest wishes,\nThe support team")
    return script


async def test_the_pipeline_asks_the_request_adapter_beside_the_analysis() -> None:
    emails = [_email("RD-88213", "Six days at the sorting hub now and the courier won't answer."),
              _email("Refund", "I returned the kettle and my refund still hasn't come.")]
    engine = ScriptedEngine(_script("late or missing delivery"))
    config = PipelineConfig(adapters={"topic": "cid-t"}, check_drafts=False)
    batch = await Pipeline(engine, config).run(emails)
    first_stage = engine.calls[0]
    assert len(first_stage) == 6  # sentiment and entities for each, then one read each
    assert [r.adapter for r in first_stage[4:]] == ["cid-t", "cid-t"]
    unclear, disputed = batch.outcomes
    assert isinstance(unclear, DraftText) and isinstance(disputed, DraftText)
    # The words' request stands: an unclear email stays unclear and is not disputed.
    assert unclear.request == topic.UNCLEAR and "request_disputed" not in unclear.review_reasons
    assert disputed.request == "refund_status"
    assert "request_disputed" in disputed.review_reasons and disputed.needs_review
    assert unclear.adapters["topic"] == "cid-t"
    assert batch.usage_by_task["topic"].prompt_tokens == 20
    assert unclear.usage.prompt_tokens == 40  # sentiment, entities, the read and the reply
    reply_prompt = engine.calls[1][1].messages[-1].content  # type: ignore[index]
    assert "Request: refund not received" in reply_prompt


async def test_without_a_request_adapter_the_first_stage_is_unchanged() -> None:
    engine = ScriptedEngine(_script("late or missing delivery"))
    batch = await Pipeline(engine, PipelineConfig(check_drafts=False)).run(
        [_email("RD-88213", "Six days at the sorting hub now and the courier won't answer.")])
    assert len(engine.calls[0]) == 2
    outcome = batch.outcomes[0]
    assert isinstance(outcome, DraftText) and outcome.request == topic.UNCLEAR
