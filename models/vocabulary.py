"""The words every layer shares, defined once: tasks, sentiment labels, entity fields, personas,
dead-letter reasons and the delimiters that mark untrusted text in a prompt.

This module sits at the bottom of the house (it imports nothing of replyd): handlers, the
customization loop, the daemon and its tools import these names instead of spelling them again.
"""

from __future__ import annotations

from typing import Literal, get_args

# "analysis" is sentiment and entities in one request (one adapter, one prompt): an adapter task
# and the joint form of the first stage, never a stage name of its own (``STAGE_TASKS``); so is
# "topic", the request adapter's read, asked beside it when the pipeline has that adapter, and
# "steering", the steering adapter's read (handlers.guard_model), asked the same way.
Task = Literal["sentiment", "entities", "reply", "persona", "analysis", "topic", "steering"]
TASKS: tuple[Task, ...] = get_args(Task)
# The names the ``tasks`` setting may list: the pipeline's stages.
Stage = Literal["sentiment", "entities", "reply", "persona"]
STAGE_TASKS: tuple[Stage, ...] = get_args(Stage)
# The stages a pipeline runs when the settings name none.
DEFAULT_TASKS: tuple[Task, ...] = ("sentiment", "entities", "reply")

Sentiment = Literal["positive", "negative", "neutral"]
SENTIMENTS: tuple[Sentiment, ...] = get_args(Sentiment)

EntityField = Literal["name", "product", "location"]
ENTITY_FIELDS: tuple[EntityField, ...] = get_args(EntityField)

Persona = Literal["pirate"]
PERSONAS: tuple[Persona, ...] = get_args(Persona)
# Words a rewrite in the pirate persona carries (matched case-insensitively, as whole words).
PERSONA_MARKERS: dict[str, tuple[str, ...]] = {
    "pirate": ("ahoy", "matey", "ye", "arr", "fair winds"),
}

# Why a record became a dead letter. The first four are decided at the Kafka edge, the last two
# by the pipeline (``TaskFailure``).
DeadLetterReason = Literal[
    "invalid_json",  # the bytes are not UTF-8 JSON
    "schema",  # JSON, but not an IncomingEmail
    "too_large",  # over max_body_bytes, rejected before inference
    "invalid_mail",  # a message/rfc822 record that is not a usable message (no sender address)
    "engine_output",  # the model's output for this email was unusable
    "engine_error",  # the engine kept failing on this email until the retry deadline
    "engine_request",  # the engine refused this email's request (e.g. longer than its context)
]
DEAD_LETTER_REASONS: tuple[DeadLetterReason, ...] = get_args(DeadLetterReason)
# The reasons a plain `replyd replay-dead-letters` replays: the email was fine, the engine was not
# (it kept failing until the retry deadline). The others fail again on the same bytes unless
# something changed (a producer, the model, max_model_len): they are replayed only when named.
TRANSIENT_DEAD_LETTER_REASONS: tuple[DeadLetterReason, ...] = ("engine_error",)
FailureReason = Literal["engine_output", "engine_error", "engine_request"]
# Why an email gets no draft but a "skipped" record: it wants no reply (daemon.mail).
SkipReason = Literal["auto_reply", "bounce", "mailing_list", "bulk", "spam"]
SKIP_REASONS: tuple[SkipReason, ...] = get_args(SkipReason)

# Untrusted text (an email, a draft to rewrite) enters a prompt only between these tags.
EMAIL_OPEN, EMAIL_CLOSE = "<email>", "</email>"

# Compact JSON, the one spelling of the engines' JSON grammars: no whitespace after "," or ":".
# vLLM's xgrammar backend emits it under ``disable_any_whitespace`` and the peft engine's grammar
# is compiled to match; training targets, few-shot examples and the echo engine write it too.
JSON_SEPARATORS: tuple[str, str] = (",", ":")
