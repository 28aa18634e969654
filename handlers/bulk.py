"""Bulk mail told by its own words: a newsletter or marketing footer in the sender's text.

Mail systems mark most bulk mail in its headers (List-Id, List-Unsubscribe, Precedence: bulk;
``daemon.mail.no_reply_reason`` reads those). Much of it is not marked and still ends in the
sender's own footer: "You are receiving this email because you subscribed ...", "To unsubscribe,
visit http://...", "The e-mail address for your subscription is ...". Such a message asks no
question of a support team, and a drafted reply to it answers a case nobody opened.

Only the text the sender wrote counts (:func:`handlers.thread.split_thread`: the new text and
its footer, never the quoted history), so a customer who replies to or forwards a newsletter
with a question of their own is answered, and a message whose subject says it is a reply or a
forward ("Re:", "Fwd:") is never judged bulk. The phrases are the sender's side of the
subscription ("if you no longer wish to receive", "click here to unsubscribe", an unsubscribe
order followed by a link); what a customer writes about one ("I tried to unsubscribe using
the link https://...", "how do I unsubscribe?", "please remove me from your list") matches
none of them. Linear: fixed patterns with bounded gaps over a bounded window.
"""

from __future__ import annotations

import re

from handlers.thread import split_thread

__all__ = ["MAX_BULK_SCAN_CHARS", "looks_like_bulk"]

MAX_BULK_SCAN_CHARS = 20_000  # the split is linear: ~25 ms for 10,000 lines on one core
_REPLY_OR_FORWARD = re.compile(r"\s*(?:re|fwd?|aw|wg|tr|sv|vs|antw|rif|r)\s*(?:\[\d+\])?\s*:",
                               re.IGNORECASE)
# Every footer pattern needs one of these words: most mail is turned away by a few substring
# searches (a regular expression alternation of them costs ~50x more per email).
_GATE_WORDS = ("unsub", "subscri", "remov", "opt-out", "opt out", "optout", "stop receiving",
               "no longer", "not wish", "not want", "n't wish", "n't want", "preferences",
               "settings", "browser", "online", "was sent to", "receiving this", "received this",
               "getting this", "sent this")
_LINK = r"(?:https?://|www\.|mailto:|[\w.+-]+@[\w-]+\.\w)"
# A sentence or line start: the unsubscribe orders are the sender's, in the imperative.
_START = r"(?:^|(?<=[.!?:;,|*\]\)>\n])[ \t]{0,3}|\n[ \t]{0,3})"
_THIS_MAIL = r"this\s+(?:e-?mail|message|newsletter|mailing|notification|alert|update|letter)"
_FOOTER = re.compile(
    # Not "you sent this to my old address because ...": the object is the mail itself.
    rf"\byou(?:'re| are| have| have been)?\s+(?:receiving|received|getting|been sent)\s+"
    rf"(?:{_THIS_MAIL}\b.{{0,60}}?|this\s+)\b(?:because|as a|as you|since)\b"
    r"|\byou(?:'re| are) (?:currently )?subscribed (?:to|as)\b"
    r"|\byour subscribed e-?mail address\b|\bthe e-?mail address for your subscription\b"
    r"|\bif you (?:no longer|do not|don't) (?:wish|want) to (?:receive|get|be on)\b"
    r"|\bif you (?:wish|want|would like) to (?:unsubscribe|be removed|stop receiving|opt[- ]?out)\b"
    # An order ("Click here to unsubscribe"), not a story ("when I click this link to ...").
    rf"|{_START}(?:please |simply |just )?(?:click|go|tap) (?:here|below|this link|on this "
    r"link)\b.{0,30}?\b(?:unsubscribe|be removed|opt[- ]?out|stop receiving)\b"
    rf"|{_START}to (?:unsubscribe|be removed|opt[- ]?out|stop receiving)\b.{{0,100}}?{_LINK}"
    rf"|{_START}unsubscribe\b.{{0,15}}(?:here|link|at|:).{{0,40}}?{_LINK}"
    r"|\b(?:manage|update|change) your (?:e-?mail |subscription |notification |mailing )?"
    rf"(?:preferences|subscriptions?|settings)\b.{{0,40}}?{_LINK}"
    rf"|{_START}view (?:this|it|the) (?:e-?mail|message|newsletter|issue)?\s?"
    r"(?:online|in (?:your|a) (?:web )?browser)\b"
    # "This email was sent to dana@example.com", not "... was sent to me by mistake".
    rf"|\b{_THIS_MAIL} was sent to\b.{{0,60}}?[@\[]",
    re.IGNORECASE | re.DOTALL,
)


def looks_like_bulk(subject: str, body: str) -> bool:
    """True when the sender's own text ends in a bulk-mail footer (see the module doc)."""
    window = body[:MAX_BULK_SCAN_CHARS]
    lower = window.lower()
    if _REPLY_OR_FORWARD.match(subject or "") or not any(w in lower for w in _GATE_WORDS):
        return False
    parts = split_thread(window)
    if parts.fallback:  # nothing new: the text is a forwarded or quoted message
        return False
    return _FOOTER.search(f"{parts.new_text}\n{parts.signature}") is not None
