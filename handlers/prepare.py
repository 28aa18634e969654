"""What the stages see of an email: the newly written text, fitted to the model, and the facts
about it that decide how its draft is read.

Real mail carries more than its sender just wrote: quoted history, forwarded chains, signatures
and legal footers, often longer than the new text. :func:`prepare` splits them
(:func:`handlers.thread.split_thread`); the analysis and the reply quote the new text, the reply
also a bounded slice of the thread as context; the draft checks compare against everything the
email carries. It also detects the new text's language, looks for steering attempts, and cuts
the quoted text to the token budget (:class:`handlers.budget.PromptBudget`), so every prompt fits
the served model's context. The analysis stages (sentiment, entities) quote a shorter cut of
the same text (``analysis_tokens``): a mood and the names in an email show in its start and
its end, and each of the two analysis prompts would otherwise prefill the whole text again.

CPU work on text (a tokenizer, a classifier): the pipeline runs it off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers import entities, guard_model, reply, topic
from handlers.budget import PromptBudget, TokenCounter
from handlers.guard import looks_like_steering
from handlers.language import detect_language
from handlers.reflow import unwrap
from handlers.thread import split_thread
from handlers.types import EmailText

# Characters of a signature kept with the new text: its first lines carry the sender's name.
SIGNATURE_CHARS = 200
MAX_SUBJECT_CHARS = 300
# The thread slice the reply sees: the most recent quoted text, at most this much.
THREAD_CHARS = 1200
THREAD_TOKENS = 160
# Room in every prompt for what is not the email: instructions, the facts line, chat template.
FACTS_TOKENS = 96
TEMPLATE_TOKENS = 64
# What the fact checks compare against, at most (bounded work per draft).
SOURCE_CHARS = 20_000
STEERING_WINDOW_CHARS = 6000
# Tokens the steering adapter's window may take: its characters are few, but emoji or CJK can
# make them many more tokens than the model's context holds.
STEERING_READ_TOKENS = 384
LANGUAGE_SAMPLE_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Prepared:
    """One email ready for the stages."""

    text: EmailText  # subject, new text and thread slice, each fitted: what the reply quotes
    source: EmailText  # what the email carries (thread included), for the draft checks
    language: str  # ISO 639-1 code of the new text, "und" when too short to tell
    language_score: float
    steering: bool  # the email looks like it tries to steer the model
    # Most letters of the new text are outside the Latin script (CJK, Arabic, Cyrillic...):
    # a sure sign of a language the reply model does not write, whatever the detector's score.
    non_latin: bool = False
    # What the analysis prompts quote: ``text`` cut to the analysis budget (``text`` itself
    # when it fits, or when no analysis budget was given).
    analysis: EmailText | None = None
    # The request adapter named another case than the word reader (handlers.topic_model).
    request_disputed: bool = False
    # Where the words name no case: those they lean towards (handlers.topic.leaning), and
    # whether the request line is the adapter's case, one of them (handlers.topic_model).
    leaning: frozenset[str] = frozenset()
    request_inferred: bool = False
    # The subject and the start of the body as they arrived (quoted history included), fitted
    # to the steering adapter's window (handlers.guard_model); None when not prepared.
    arrived: EmailText | None = None

    @property
    def request(self) -> str:
        """The request the email reads as: a key of :data:`handlers.topic.LABELS`, or
        "unclear"."""
        return topic.case_of(self.text.request) or topic.UNCLEAR

    @property
    def analysed(self) -> EmailText:
        """The text the analysis stages quote."""
        return self.analysis or self.text


def email_budget(count: TokenCounter, context_tokens: int | None, max_email_tokens: int,
                 output_tokens: int) -> PromptBudget:
    """The budget of the quoted email: ``max_email_tokens``, less when the context leaves less
    room after the longest instructions, the facts, the thread slice and the output."""
    tokens = max_email_tokens
    if context_tokens is not None:
        instructions = max(count(entities.SYSTEM), count(reply.SYSTEM))
        room = (context_tokens - instructions - FACTS_TOKENS - THREAD_TOKENS - TEMPLATE_TOKENS
                - output_tokens)
        tokens = min(tokens, room)
    return PromptBudget(count, max(tokens, 0))


def prepare(email: EmailText, budget: PromptBudget, analysis_tokens: int | None = None) -> Prepared:
    """``analysis_tokens``: the tokens the analysis prompts may quote (subject and new text
    together, never more than ``budget``); None quotes the reply's text."""
    parts = split_thread(email.body)
    new_text = unwrap(parts.new_text)  # one line a paragraph, as the adapters were trained
    if parts.signature:
        new_text = f"{new_text}\n\n{parts.signature[:SIGNATURE_CHARS]}".strip()
    # A subject takes at most a quarter of the room; the body gets what is left.
    subject = PromptBudget(budget.count, budget.email_tokens // 4, MAX_SUBJECT_CHARS).fit(
        " ".join(email.subject.split()))
    body_budget = PromptBudget(budget.count, budget.email_tokens - budget.count(subject),
                               budget.max_chars)
    thread = ""
    if parts.quoted:
        thread = PromptBudget(budget.count, THREAD_TOKENS, THREAD_CHARS).fit(
            parts.quoted[:THREAD_CHARS])
    language, score = detect_language(parts.new_text)
    window = f"{email.subject}\n{email.body[:STEERING_WINDOW_CHARS]}"
    case, leaning = topic.read_request(subject, new_text)  # one pass over the words
    text = EmailText(email.message_id, subject, body_budget.fit(new_text),
                     from_name=email.from_name, thread=thread,
                     request=topic.LABELS[case] if case else topic.UNCLEAR)
    analysis = None
    if analysis_tokens is not None and analysis_tokens < budget.email_tokens:
        # The same shares as above: the subject at most a quarter, the body the rest.
        short = PromptBudget(budget.count, analysis_tokens // 4, MAX_SUBJECT_CHARS).fit(subject)
        room = analysis_tokens - budget.count(short)
        body = PromptBudget(budget.count, room, budget.max_chars).fit(text.body)
        if (short, body) != (subject, text.body):
            analysis = EmailText(email.message_id, short, body, from_name=email.from_name)
    return Prepared(
        text=text,
        analysis=analysis,
        source=EmailText(email.message_id, email.subject,
                         f"{email.from_name}\n{email.body[:SOURCE_CHARS]}",
                         from_name=email.from_name),
        language=language,
        language_score=score,
        steering=looks_like_steering(window),
        non_latin=_mostly_non_latin(parts.new_text[:LANGUAGE_SAMPLE_CHARS]),
        leaning=leaning,
        arrived=EmailText(email.message_id, subject, PromptBudget(
            budget.count, STEERING_READ_TOKENS, guard_model.WINDOW_CHARS).fit(
                email.body[: guard_model.WINDOW_CHARS])),
    )


def _mostly_non_latin(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and sum(ch > "\u024f" for ch in letters) > len(letters) / 2
