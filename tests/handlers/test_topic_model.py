"""The request adapter's prompt, parser and how its read joins the word reader's."""

from __future__ import annotations

import dataclasses
import re

import pytest

from handlers import topic, topic_model
from handlers.budget import PromptBudget
from handlers.pipeline import Pipeline, PipelineConfig
from handlers.prepare import Prepared, prepare
from handlers.topic_model import disputes
from handlers.types import DraftText, EmailText
from models.engines.base import GenerateRequest, GenerateResult, estimate_tokens
from models.errors import OutputError
from tests.handlers.fakes import ScriptedEngine, result


def _prepared(subject: str, body: str) -> Prepared:
    return prepare(EmailText("<m@x>", subject, body), PromptBudget(estimate_tokens, 1024))


def _email(subject: str, body: str) -> EmailText:
    return EmailText("<m@x>", subject, body, request=topic.label(subject, body))


def test_the_constraint_admits_every_case_label_and_nothing_else() -> None:
    pattern = re.compile(topic_model.CONSTRAINT.regex or "")
    assert all(pattern.fullmatch(label) for label in topic.LABELS.values())
    assert pattern.fullmatch("something else")  # a request no case answers
    assert not pattern.fullmatch("a discount code")


def test_the_answer_parses_to_its_case_and_anything_else_is_an_output_error() -> None:
    assert topic_model.parse(result("refund not received")) == "refund_status"
    assert topic_model.parse(result(" cannot log in.")) == "login_problem"
    assert topic_model.parse(result("something else")) == topic_model.OTHER
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
    emails = [_email("Hello", "Could someone call me tomorrow morning, please?"),
              _email("Refund", "I returned the kettle and my refund still hasn't come."),
              _email("RD-88213", "Six days at the sorting hub now and the courier won't answer.")]
    engine = ScriptedEngine(_script("late or missing delivery"))
    config = PipelineConfig(adapters={"topic": "cid-t"}, check_drafts=False)
    batch = await Pipeline(engine, config).run(emails)
    first_stage = engine.calls[0]
    assert len(first_stage) == 9  # sentiment and entities for each, then one read each
    assert [r.adapter for r in first_stage[6:]] == ["cid-t"] * 3
    unclear, disputed, inferred = batch.outcomes
    assert isinstance(unclear, DraftText) and isinstance(disputed, DraftText)
    assert isinstance(inferred, DraftText)
    # No word leans towards a late parcel: the email stays unclear, and is not disputed.
    assert unclear.request == topic.UNCLEAR and unclear.review_reasons == ("no_request",)
    # The words' request stands against the adapter's, and the draft is marked.
    assert disputed.request == "refund_status"
    assert "request_disputed" in disputed.review_reasons and disputed.needs_review
    # "the courier" leans towards a late parcel without naming it: the adapter's case is
    # taken, the reply prompt states it, and the draft is marked.
    assert inferred.request == "late_delivery" and inferred.needs_review
    assert inferred.review_reasons == ("request_inferred",)
    assert unclear.adapters["topic"] == "cid-t"
    assert batch.usage_by_task["topic"].prompt_tokens == 30
    assert unclear.usage.prompt_tokens == 40  # sentiment, entities, the read and the reply
    prompts = [r.messages[-1].content for r in engine.calls[1]]  # type: ignore[index]
    assert "Request: refund not received" in prompts[1]
    assert "Request: unclear" in prompts[0] and "Request: late or missing delivery" in prompts[2]


def test_something_else_disputes_a_case_the_words_name_and_infers_nothing() -> None:
    email = _email("Refund", "I returned the kettle a month ago and my refund still hasn't come.")
    assert disputes(email, topic_model.OTHER)
    prepared = dataclasses.replace(_prepared("RD-1", "The courier won't answer."))
    assert prepared.leaning == {"late_delivery"}
    again = topic_model.reread(prepared, result("something else"))
    assert again.request == topic.UNCLEAR and not again.request_inferred
    assert not again.request_disputed
    inferred = topic_model.reread(prepared, result("late or missing delivery"))
    assert inferred.request == "late_delivery" and inferred.request_inferred


def test_a_request_outside_the_cases_leans_towards_none() -> None:
    # "courier" leans towards a late parcel, but a discount code is what the email asks about.
    assert topic.leaning("Code", "The courier was fine but the promo code WELCOME10 failed.") == (
        frozenset())
    assert topic.leaning("Hello", "Can you call me?") == frozenset()
    assert _prepared("Refund", "I returned it and still no refund.").leaning == frozenset()


async def test_without_a_request_adapter_the_first_stage_is_unchanged() -> None:
    engine = ScriptedEngine(_script("late or missing delivery"))
    batch = await Pipeline(engine, PipelineConfig(check_drafts=False)).run(
        [_email("RD-88213", "Six days at the sorting hub now and the courier won't answer.")])
    assert len(engine.calls[0]) == 2
    outcome = batch.outcomes[0]
    assert isinstance(outcome, DraftText) and outcome.request == topic.UNCLEAR


def test_praise_or_thanks_is_inferred_only_from_a_positive_email_the_words_leave_unclear() -> None:
    quiet = _prepared("Washing machine", "Just had to say, it is so quiet we forget it is on.")
    assert quiet.request == topic.UNCLEAR and quiet.leaning == frozenset()
    read = result("praise")
    assert topic_model.reread(quiet, read, "positive").request == "praise"
    assert topic_model.reread(quiet, read, "positive").request_inferred
    assert topic_model.reread(quiet, read, "neutral").request == topic.UNCLEAR
    assert topic_model.reread(quiet, result("cancellation"), "positive").request == topic.UNCLEAR
    refund = _prepared("Refund", "I returned it and still no refund.")
    assert topic_model.reread(refund, read, "positive").request == "refund_status"  # disputed
