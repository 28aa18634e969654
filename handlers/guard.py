"""Flags emails that try to steer the model. Such drafts get ``needs_review``; they still go out
as drafts (replyd never sends mail), so a person looks before anything reaches the customer."""

from __future__ import annotations

import re

_STEERING = re.compile(
    r"ignore (all |any )?(the )?(previous|prior|above|earlier) (instructions|prompts?|rules)"
    r"|disregard (all |any )?(the )?(previous|prior|above|your) (instructions|rules)"
    r"|(reveal|print|show) (me )?(your|the) (system )?prompt"
    r"|you are now (a|an|the)\b"
    r"|</?\s*(system|assistant|email)\s*>"
    r"|\b(act|behave) as (if you were|a|an)\b.*\b(without|no) (restrictions|rules)",
    re.IGNORECASE,
)


def looks_like_steering(text: str) -> bool:
    """True when the text contains a known prompt-injection pattern."""
    return _STEERING.search(text) is not None
