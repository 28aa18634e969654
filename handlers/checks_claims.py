"""What a draft says support did or will do that only a person can say: a promise (a
cancellation, compensation, a deadline) or a claim that the case is already dealt with.

The reply model learnt from replies that check, ask, explain and confirm, and never name a
date or an amount, but being small it strays: "we'll cancel it by the end of the week", "we'll
send a new one free of charge", and, worst on real mail, "it's all taken care of", "your stand
is sorted for you now", "your order has been confirmed", "we've refunded the charge". Nobody
did any of that: the draft is written before any person has looked at the case, and a customer
who reads it stops chasing a problem that is still open.

:func:`invented_commitments` finds them. A promise or a claim is grounded when the email uses
the same word (by stem: "cancelled" grounds "cancellation", "thanks for sorting it out" grounds
"we're glad everything is sorted"), and a claim inside a condition ("we'll let you know once it
has been confirmed") claims nothing. A deadline is never grounded: the prompt forbids dates.

Pure and bounded: fixed regular expressions without nested unbounded repetition, a look at
the few dozen characters before each claim, and handlers.checks_case's bounded near-miss search.
"""

from __future__ import annotations

import re

from handlers.checks_case import nearly_mentions

# Promises support makes only on purpose: a cancellation, compensation, a discount or voucher,
# something free. The generator's replies name them only where the email does, so one the email
# never mentions is the model's invention (replacements and refunds are left out: the replies
# offer them as policy, "if it has gone missing, we'll talk you through a replacement").
_COMMITMENT = re.compile(
    r"\b(cancel|compensat|reimburs|discount|voucher|money back|free of charge|for free"
    r"|at no (?:extra )?cost)", re.IGNORECASE)
# A deadline the draft sets ("by today", "before the end of the week"): the prompt forbids
# promising dates, and a weekday or "tomorrow" the email lacks is already an invented fact.
_DEADLINE = re.compile(
    r"\b(?:by|before|within|until|no later than) (?:today|tonight"
    r"|end of (?:the )?(?:day|week|month)|the end of (?:the )?(?:day|week|month)"
    r"|(?:this|next) (?:week|month|weekend))\b",
    re.IGNORECASE)
# A claim that the case is dealt with; group "done" is the word that says so.
_DONE_WORDS = (r"taken\s+care\s+of|sorted|fixed|resolved|refunded|replaced|processed|approved"
               r"|issued|cancell?ed|confirmed|completed|shipped|dispatched|credited|reversed"
               r"|settled|handled|arranged")
_RESOLVED = re.compile(
    r"\b(?:it|that|this|everything|all)(?:'s|\s+is|\s+has\s+been|'s\s+been)\s+(?:all\s+|now\s+"
    rf"|already\s+)?(?P<done>{_DONE_WORDS})\b"
    r"|\b(?:is|are|has\s+been|have\s+been|was|were)\s+(?:now\s+|already\s+|all\s+)?"
    rf"(?P<done2>{_DONE_WORDS})\b(?!\s+(?:by|to|with)\b)"
    r"|\bwe(?:'ve|\s+have)\s+(?:already\s+|now\s+|just\s+)?(?P<done3>refunded|replaced|shipped"
    r"|cancell?ed|processed|resolved|fixed|sorted|issued|approved|credited|reversed|arranged"
    r"|dispatched|sent\s+(?:you\s+)?(?:a|the|your)\s+(?:new|replacement|refund))",
    re.IGNORECASE)
# A condition before the claim in its sentence: "we'll let you know once it's confirmed".
_CONDITION = re.compile(r"\b(?:if|whether|once|until|when|as\s+soon\s+as|after|so\s+that|make"
                        r"\s+sure|check(?:ing)?|see)\b[^.!?\n]*$", re.IGNORECASE)
_LOOK_BACK = 80
# "Sorted", "fixed", "resolved" and the like say one thing: the email saying it in any of
# them ("thanks for sorting it out", "it's all working again") grounds every one.
_DEALT_WITH = frozenset({"sort", "fixe", "reso", "sett", "hand", "care"})
_DEALT_WITH_GROUND = re.compile(r"\b(?:sort|fix|resolv|solv|settl|handl|taken care)|\bworking again"
                                r"|\bworks? again|\bup and running", re.IGNORECASE)
# Their typos ("sroting out my account", a swap in the second letter): a near miss of one of
# these grounds them too (handlers.checks_case's near-miss search, by first letter).
_DEALT_WITH_NEAR = ("sorting", "sorted", "fixed", "fixing", "resolved", "resolving", "working",
                    "handled", "settled", "solved")


def invented_commitments(draft: str, source: str) -> list[str]:
    """Promises and claims in ``draft`` the email (``source``) gives no ground for, as the
    words that make them: a cancellation, compensation, a discount or voucher, something free,
    the case dealt with ("it's all taken care of"), and any deadline (see the module
    docstring)."""
    grounded = {m.group(1).casefold() for m in _COMMITMENT.finditer(source)}
    found = [m.group(0) for m in _COMMITMENT.finditer(draft)
             if m.group(1).casefold() not in grounded]
    return found + invented_resolutions(draft, source) + [
        m.group(0) for m in _DEADLINE.finditer(draft)]


def invented_resolutions(draft: str, source: str) -> list[str]:
    """The claims in ``draft`` that the case is dealt with ("it's sorted", "we've refunded")
    whose word ``source`` never uses, outside a condition."""
    text = source.casefold()
    found = []
    for match in _RESOLVED.finditer(draft):
        done = (match.group("done") or match.group("done2") or match.group("done3")).casefold()
        stem = "care" if done.startswith("taken") else done[:4]
        if (_dealt_with(text) if stem in _DEALT_WITH else re.search(rf"\b{stem}", text)):
            continue
        if _CONDITION.search(draft[max(0, match.start() - _LOOK_BACK):match.start()]):
            continue
        found.append(match.group(0))
    return found


def _dealt_with(text: str) -> bool:
    """Whether ``text`` (lower case) says the case is dealt with, in any of the words that
    say so, or in a typo of one."""
    return bool(_DEALT_WITH_GROUND.search(text)) or nearly_mentions(text, _DEALT_WITH_NEAR, 1)
