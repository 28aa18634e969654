"""Mail that asks support nothing (handlers.request): its draft is marked for review with the
reason no_request; a customer's email, however short, is not."""

from __future__ import annotations

import asyncio

import pytest

from handlers.pipeline import Pipeline, PipelineConfig
from handlers.request import reads_as_request
from handlers.thread import split_thread
from handlers.types import DraftText, EmailText, Entities
from models.engines.echo import EchoEngine
from models.synth.emails import generate_emails

NEWS = EmailText("<n@x>", "Bank robber gets the loot, makes it out of bank",
                 "A man robbed a bank in Ohio on Tuesday, shot himself in the leg on the way out "
                 "and was hit by a van, yet still made his escape, police said.\n\nJoe")


@pytest.mark.parametrize("text", [
    "My kettle won't switch on.",
    "Where is my parcel?",
    "I was charged twice this month.",
    "How do I reset my password?",
    "Can you help me with the setup?",
    "Please cancel my membership.",
])
def test_a_customer_in_few_words_reads_as_a_request(text: str) -> None:
    assert reads_as_request(EmailText("<c@x>", "", text), Entities())


def test_a_news_item_asks_nothing_unless_the_analysis_found_a_product() -> None:
    assert not reads_as_request(NEWS, Entities())
    assert reads_as_request(NEWS, Entities(product=("Glide cordless iron",)))


def test_the_generators_customer_emails_read_as_requests() -> None:
    emails = generate_emails(1000, seed=3, split="eval")
    asking = [e for e in emails if reads_as_request(
        EmailText(e.message_id, e.subject, split_thread(e.body).new_text),
        Entities(product=tuple(e.entities["product"])))]
    assert len(asking) >= 0.99 * len(emails)


def test_a_draft_of_mail_that_asks_nothing_is_marked_for_review() -> None:
    engine = EchoEngine()
    pipeline = Pipeline(engine, PipelineConfig())
    kettle = EmailText("<k@x>", "Broken kettle", "My kettle stopped working after a week. Dana")

    async def run() -> object:
        async with engine:
            return await pipeline.run([NEWS, kettle])

    news, customer = asyncio.run(run()).outcomes  # type: ignore[attr-defined]
    assert isinstance(news, DraftText) and isinstance(customer, DraftText)
    assert "no_request" in news.review_reasons and news.needs_review
    assert "no_request" not in customer.review_reasons


def test_a_follow_up_asks_what_its_quoted_thread_asked() -> None:
    chaser = EmailText("<f@x>", "Re: hello", "Still nothing? See below.\n\nDana",
                       thread="> My kettle stopped working after a week.")
    assert reads_as_request(chaser, Entities())
    assert not reads_as_request(EmailText("<f@x>", "Re: hello", "Still nothing? See below."),
                                Entities())
