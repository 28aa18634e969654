"""Wire contracts: the JSON that crosses Kafka. They exist only at the edge of the daemon.

``IncomingEmail`` arrives on the input topic, ``Draft`` leaves on the drafts topic and
``DeadLetter`` on the dead-letter topic. ``export_schemas`` writes their JSON Schemas to
``docs/schemas/``; a test keeps those files equal to the models.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from models.vocabulary import DeadLetterReason, Sentiment, SkipReason

DRAFT_SCHEMA_VERSION: Literal[4] = 4
# A deliberately loose address check: mail systems own address validation; we only refuse junk.
Address = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)]
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=998)]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")


class Attachment(_Wire):
    """An attachment of the email, by name, type and size; its content never crosses Kafka."""

    filename: Annotated[str, StringConstraints(max_length=256)] = ""
    content_type: Annotated[str, StringConstraints(max_length=128)] = "application/octet-stream"
    size: int = Field(0, ge=0, description="Decoded size, bytes.")


class IncomingEmail(_Wire):
    """One customer email as published by a mail system.

    Fields this version does not know are accepted and ignored (a mail system that adds one must
    not dead-letter its traffic); the daemon counts such emails in
    ``replyd_emails_with_unknown_fields_total``."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="allow")

    message_id: NonEmpty = Field(description="The email's Message-ID; drafts are keyed by it.")
    from_: Address = Field(alias="from", description="The customer's address.")
    to: Address = Field(description="The support address it was sent to.")
    subject: Annotated[str, StringConstraints(max_length=998)] = ""
    body: str = Field(description="Plain-text body.")
    received_at: datetime = Field(description="When the mail system received it (ISO 8601).")
    thread_id: str | None = None
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Headers the mail system parsed. Auto-Submitted, Precedence, List-Id, "
        "List-Post and Return-Path (any case) decide whether the email wants a reply.",
    )
    from_name: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        None, description="The sender's display name (\"Dana Ross\" <dana@...>), if any: the "
        "first source of the customer's name.")
    attachments: list[Attachment] = Field(
        default_factory=list, description="Attachments, listed only: never part of the body.")


class Entities(_Wire):
    """Spans found in the email: the customer's name, the products and the places mentioned."""

    name: list[str] = Field(default_factory=list)
    product: list[str] = Field(default_factory=list)
    location: list[str] = Field(default_factory=list)


class AdapterUse(_Wire):
    """Which adapter served a task (``customization_id`` is None for the bare base model)."""

    task: str
    customization_id: str | None


class TokenCounts(_Wire):
    prompt: int = Field(ge=0)
    completion: int = Field(ge=0)


class Draft(_Wire):
    """A reply draft for one email. replyd never sends it: a mail system or a person does."""

    in_reply_to: NonEmpty = Field(description="The message_id of the email it answers.")
    to: Address = Field(description="Where the reply goes: the email's Reply-To header when it "
                        "names a usable address (a web form sent from noreply@), else its from.")
    subject: str
    body: Annotated[str, StringConstraints(min_length=1)]
    sentiment: Sentiment
    entities: Entities
    persona: str | None = Field(description="Company voice the body is written in, if rewritten.")
    needs_review: bool = Field(
        False,
        description="A person must read this draft before it goes anywhere: the email looked "
        "like it tried to steer the model, was in another language or asked support nothing, "
        "or the model's drafts failed their checks and the body is the grounded fallback (see "
        "review_reasons).",
    )
    review_reasons: list[str] = Field(
        default_factory=list,
        description="Why a person must read it: the checks the model's drafts failed "
        "(repetition, prompt_echo, customer_voice, misplaced_condolence, brush_off, "
        "needless_follow_up, needless_question, apology_missing, length, unfinished, "
        "invented_facts, greeting_name, misspelt_fact, unsigned, empty, engine_request) "
        "when the body is the grounded fallback; steering when the email looked like it tried "
        "to steer the model; language when it is written in a language the model does not "
        "reply in well; no_request when it names nothing support handles (no order, product, "
        "account, payment, delivery, fault or question for help); answer_removed when the "
        "first draft answered a request the email never made (the answer was deleted or the "
        "draft written again; not for a thank-you whose deleted answer only passed on thanks); "
        "no_answer when the draft holds nothing but the sentences around an answer "
        "(acknowledgement, empathy, closing) and the email is not a thank-you; off_request "
        "when the email reads as one request (a refund, a warranty...) and the draft's "
        "answer is another's, or as none and the draft answers only requests it has no "
        "word of; unfamiliar_wording when the draft held a sentence the reply adapter never "
        "learned (a guess: garbled, or an answer of its own), with check_wording on; with "
        "check_wording cut (the default for the shipped adapter) such sentences are cut, and a "
        "line saying support will get back to the customer (or, where both readers agree on "
        "the request, that request's next step) stands for an answer cut; request_disputed "
        "when the word reader and the request adapter read the email as two different "
        "requests (the draft answers the word reader's); request_inferred when the words "
        "named no request and the draft answers the one the request adapter read.",
    )
    language: str | None = Field(
        None, description="ISO 639-1 code of the newly written text, 'und' when too short to "
        "tell; None when not detected.")
    request: str | None = Field(
        None, description="What the email asks for, read from its words (the reply prompt's "
        "request line): late_delivery, broken_item, wrong_item, billing, return_request, "
        "cancellation, feature_question, setup_help, praise, support_thanks, missing_part, "
        "refund_status, warranty, address_change, login_problem, or unclear when no one "
        "request clearly wins.")
    adapters: list[AdapterUse]
    base_model: str
    timings_ms: dict[str, float] = Field(description="Per-stage time of the batch, milliseconds.")
    tokens: TokenCounts
    created_at: datetime
    outcome: Literal["drafted"] = Field(
        "drafted", description="What the drafts topic record is: a draft, or a skipped email.")
    schema_version: Literal[4] = Field(
        DRAFT_SCHEMA_VERSION,
        description="2 added review_reasons; 3 added outcome and language and the skipped "
        "records (SkippedEmail) on the same topic; 4 added request. Readers dispatch on "
        "outcome.",
    )


class SkippedEmail(_Wire):
    """An email that wants no reply (an auto-reply, a bounce, list or bulk mail): no draft, but a
    record on the drafts topic that says why, keyed like a draft."""

    in_reply_to: NonEmpty
    to: Address = Field(description="Where a reply would go: Reply-To when usable, else from.")
    outcome: Literal["skipped"] = "skipped"
    reason: SkipReason
    created_at: datetime
    schema_version: Literal[4] = DRAFT_SCHEMA_VERSION


class SourceCoordinates(_Wire):
    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class DeadLetter(_Wire):
    """A message replyd could not turn into a draft, with enough to replay or inspect it."""

    reason: DeadLetterReason
    error: str = Field(description="What went wrong, for a human.")
    source: SourceCoordinates
    original_b64: str = Field(
        description="The original bytes, base64; only a prefix when original_truncated."
    )
    original_size: int = Field(ge=0, description="Length of the whole original, bytes.")
    original_sha256: str = Field(description="sha256 of the whole original, hex.")
    original_truncated: bool
    original_content_type: str | None = Field(
        None, description="The original record's content-type header (message/rfc822 for raw "
        "mail), when it had one: replay sends it again with the original.")
    failed_at: datetime

    @classmethod
    def build(
        cls,
        reason: DeadLetterReason,
        error: str,
        source: SourceCoordinates,
        original: bytes,
        max_original_bytes: int,
        max_error_chars: int = 1_000,
        original_content_type: str | None = None,
    ) -> DeadLetter:
        """Keep ``original`` whole up to ``max_original_bytes``, else that prefix
        (``original_truncated``); the error text is cut to ``max_error_chars``."""
        truncated = len(original) > max_original_bytes
        kept = original[:max_original_bytes] if truncated else original
        if len(error) > max_error_chars:
            error = error[: max(0, max_error_chars - 1)] + "…"
        return cls(
            reason=reason,
            error=error,
            source=source,
            original_b64=base64.b64encode(kept).decode("ascii"),
            original_size=len(original),
            original_sha256=hashlib.sha256(original).hexdigest(),
            original_truncated=truncated,
            original_content_type=original_content_type,
            failed_at=datetime.now(UTC),
        )


WIRE_MODELS: dict[str, type[BaseModel]] = {
    "IncomingEmail": IncomingEmail,
    "Draft": Draft,
    "SkippedEmail": SkippedEmail,
    "DeadLetter": DeadLetter,
}


def schema_documents() -> dict[str, str]:
    """File name → JSON Schema text for every wire model (what ``docs/schemas/`` must hold)."""
    return {
        f"{name}.schema.json": json.dumps(
            model.model_json_schema(by_alias=True), indent=2, sort_keys=True
        )
        + "\n"
        for name, model in WIRE_MODELS.items()
    }


def export_schemas(folder: Path) -> list[Path]:
    """Write every wire model's JSON Schema into ``folder``; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in schema_documents().items():
        path = folder / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
