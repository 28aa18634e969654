"""Flags emails that try to steer the model. Such drafts get ``needs_review``; they still go out
as drafts (replyd never sends mail), so a person looks before anything reaches the customer."""

from __future__ import annotations

import re

# The delimiter tags: one alternative of _STEERING, also searched alone (below).
_TAG_PATTERN = r"</?\s*(system|assistant|email)\s*>"
_STEERING = re.compile(
    r"ignore (all |any )?(the )?(previous|prior|above|earlier) (instructions|prompts?|rules)"
    r"|disregard (all |any )?(the )?(previous|prior|above|your) (instructions|rules)"
    r"|(reveal|print|show) (me )?(your|the) (system )?prompt"
    r"|you are now (a|an|the)\b"
    rf"|{_TAG_PATTERN}"
    # Bounded gap: ".*" here made the search quadratic in the text ("act as a " x 12,000 held
    # the event loop for seconds).
    r"|\b(act|behave) as (if you were|a|an)\b.{0,200}?\b(without|no) (restrictions|rules)",
    re.IGNORECASE,
)


# Every match of _STEERING contains one of these strings once the text is lower-cased and folded
# like IGNORECASE folds it (below). Looking for them is a few C-speed scans; the regex, which
# tries each alternative at every position, only runs on an email that has one.
_NEEDLES = ("ignore", "disregard", "prompt", "you are now", "act as", "behave as")
# IGNORECASE also matches dotless i (U+0131), long s (U+017F) and dotted capital I (U+0130) to
# "i", "s" and "i"; lower() keeps the first two and turns U+0130 into "i" plus a combining dot.
_FOLDS = (("\u0131", "i"), ("\u017f", "s"), ("\u0307", ""))
_TAG = re.compile(_TAG_PATTERN, re.IGNORECASE)


def looks_like_steering(text: str) -> bool:
    """True when the text contains a known prompt-injection pattern."""
    lowered = text.lower()
    if not lowered.isascii():
        for special, plain in _FOLDS:
            if special in lowered:
                lowered = lowered.replace(special, plain)
    if any(needle in lowered for needle in _NEEDLES):
        return _STEERING.search(text) is not None
    # Quoted replies hold "<support@…>" in most emails: the tag pattern alone starts with "<",
    # which the regex engine scans for directly.
    return "<" in lowered and _TAG.search(text) is not None
