"""What `replyd trial` measures on drafts of real mail: the greeting, invented facts.

The rules are in ``RULES`` (written into every report) and docs/TRIALS.md.
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import email.utils
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from handlers.checks import CHECKS, greets_by_name, invented_facts
from handlers.entities import display_name

FALLBACK_REASONS = frozenset((*CHECKS, "empty", "engine_request"))


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile: the smallest value with at least ``p`` % of the
    values at or below it (always one of the values, never interpolated, so a p99 of a small
    trial is its worst email rather than a made-up figure between two)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is not in 0..100")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def latency_summary(seconds: Sequence[float]) -> dict[str, Any]:
    """{count, p50_s, p95_s, p99_s, max_s} of per-email latencies (nearest rank); None figures
    when there are none."""
    figures: dict[str, Any] = {"count": len(seconds)}
    for p in (50, 95, 99):
        figures[f"p{p}_s"] = round(percentile(seconds, p), 3) if seconds else None
    figures["max_s"] = round(max(seconds), 3) if seconds else None
    return figures


def latencies(input_ms: Mapping[int, int], output_ms: Mapping[int, int],
              indexes: Iterable[int]) -> list[float]:
    """Output record timestamp minus input record timestamp, in seconds, for each of ``indexes``
    that has both (record timestamps are milliseconds since the epoch)."""
    return [(output_ms[n] - input_ms[n]) / 1000 for n in indexes
            if n in input_ms and n in output_ms]


# "Hi Bob," / "Dear Ms Smith": the word after the salutation, when it is capitalised.
_GREETING = re.compile(
    r"^\W*(?i:hi|hello|hey|dear|good (?:morning|afternoon|evening))[\s,]+"
    r"(?:(?i:mr|mrs|ms|miss|dr|prof)\.?\s+)?([A-Z][\w'\u2019-]*)")
NOT_NAMES = frozenset({"customer", "team", "there", "sir", "madam", "all", "everyone", "friend",
                       "valued", "support", "again", "and", "thank", "thanks"})
RULES = {
    "greeting": "The greeting is the draft's first non-empty line. It uses a name the message "
    "carries when it holds, as a whole word (any case), the last word of the address form "
    "(handlers.checks.address_name: first name, or title + surname) of the From display name "
    "(daemon.mail.parse_message) when it reads as a person's (handlers.entities.display_name: "
    "not a feed, brand or organisation) or of an entities.name of the draft found in the "
    "message text.",
    "greeting_word_not_in_message": "The greeting is a salutation (hi, hello, hey, dear, good "
    "morning/afternoon/evening), an optional title, then a capitalised word that is no common "
    "non-name (customer, team, there, ...) and does not occur in the message text.",
    "invented_facts": "handlers.checks.invented_facts(draft body, source, the daemon's "
    "allowed_domains) is not empty; source = decoded subject + every text/* part of the message, "
    "quoted parts included + From name.",
}


def _from_name(raw: bytes, message: email.message.Message) -> str:
    """The From display name as daemon.mail reads it (else as the standard library does)."""
    try:
        from daemon.mail import parse_message

        return parse_message(raw).from_name or ""
    except Exception:  # ImportError, or whatever the parser raises on a broken message
        with contextlib.suppress(Exception):
            return email.utils.parseaddr(str(message.get("from", "")))[0]
        return ""


def mail_source(raw: bytes) -> tuple[str, str]:
    """(source text, From name): the decoded subject, every text/* part (quoted parts too) and
    the From name, the text drafts are checked against."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    texts: list[str] = []
    with contextlib.suppress(Exception):  # the email package raises many kinds on bad headers
        texts.append(str(message.get("subject", "")))
    name = _from_name(raw, message)
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            try:
                texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
            except LookupError:
                texts.append(payload.decode("latin-1"))
    return "\n".join([*texts, name]), name


def greeting_word_not_in(greeting: str, source: str) -> bool:
    """The greeting names someone (``Hi Bob``) with a word the message never contains."""
    match = _GREETING.match(greeting)
    if match is None:
        return False
    word = match.group(1).strip("'\u2019-")
    if not word or word.casefold() in NOT_NAMES:
        return False
    return re.search(rf"\b{re.escape(word)}\b", source, re.IGNORECASE) is None


def mail_measures(inputs: Sequence[Any], outcomes: Mapping[int, Any],
                  allowed_domains: tuple[str, ...] = ()) -> dict[str, Any]:
    """Greeting, invented-fact and review counts over the drafts of real messages (see RULES)."""
    drafts = [(inputs[n], o.record) for n, o in sorted(outcomes.items()) if o.kind == "drafted"]
    carried = greeted = stranger = inventing = 0
    prompt_tokens = completion_tokens = fallbacks = 0
    for item, record in drafts:
        # A fallback lists the checks the model's drafts failed; steering and language do not
        # make one.
        fallbacks += bool(set(record.get("review_reasons") or ()) & FALLBACK_REASONS)
        tokens = record.get("tokens") or {}
        prompt_tokens += int(tokens.get("prompt", 0))
        completion_tokens += int(tokens.get("completion", 0))
        source, from_name = mail_source(item.value)
        body = str(record.get("body", ""))
        greeting = next((line.strip() for line in body.splitlines() if line.strip()), "")
        found = (record.get("entities") or {}).get("name") or []
        person = display_name(from_name)  # a feed's or a company's name is no one to greet
        names = [person] if person else []
        names += [n for n in found if isinstance(n, str) and n and n.casefold() in
                  source.casefold()]
        carried += bool(names)
        greeted += greets_by_name([greeting], names)
        stranger += greeting_word_not_in(greeting, source)
        inventing += bool(invented_facts(body, source, allowed_domains=allowed_domains))
    n = len(drafts)
    return {
        "drafts": n,
        "message_carries_a_name": carried,
        "greeting_uses_carried_name": greeted,
        "greeting_uses_carried_name_share": _share(greeted, n),
        "greeting_uses_carried_name_share_of_named": _share(greeted, carried),
        "greeting_word_not_in_message": stranger,
        "drafts_with_invented_facts": inventing,
        "drafts_with_invented_facts_share": _share(inventing, n),
        "fallbacks": fallbacks,
        # Drafts the model wrote that passed every check (first or second try): "usable".
        "model_drafts_passing_checks_share": _share(n - fallbacks, n),
        # Every stage's tokens for the email, second tries included (the draft's `tokens`).
        "prompt_tokens_per_draft": round(prompt_tokens / n, 1) if n else None,
        "completion_tokens_per_draft": round(completion_tokens / n, 1) if n else None,
        "rules": RULES,
    }


