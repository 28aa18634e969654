"""What a draft says that the email did not call for: a follow-up nobody asked for, a question
the email already answered.

The reply model learnt that support checks something and reports back ("We're checking the
status of your order and will let you know"), and, being small, says it where nothing is to be
checked: in answer to praise or thanks ("Thank you for your kind words about your humidifier!
We're checking the status of your purchase and will send you a notification."). The customer
reads that as a problem they do not have. :func:`needless_follow_ups` finds such promises in
the reply to an email that is positive, asks nothing and reports no problem.

It also learnt to ask which product an email is about, from replies to emails that name none,
and asks it of emails that name one ("Could you tell us which product this is about and the
order number?" to a customer who named the toothbrush twice). :func:`needless_questions` finds
those when the analysis found a product; :func:`drop_known_asks` takes the product out of such
a question and keeps the rest of what it asks ("Could you tell us the order number?"). It
asks for the order number too, of customers who gave it ("Could you reply with your order
number?" to "order 10557"): :func:`known_order_asks`.

The email is read for what it asks in its newly written text only (``handlers.thread``): the
questions of a quoted support reply ("Have you tried restarting the device?") ask nothing of
support. The markers of a request or a problem are wide on purpose, so an email that asks in
its own words is never taken for one that asks nothing.

Pure and bounded: fixed regular expressions without nested unbounded repetition, over the
draft and at most ``ASK_WINDOW_CHARS`` of the email.
"""

from __future__ import annotations

import re

from handlers.thread import split_thread
from handlers.types import Entities, Sentiment

ASK_WINDOW_CHARS = 6_000
# A promise to find something out and report back, or a request taken on.
FOLLOW_UP = re.compile(
    r"\b(?:we|i)(?:'re|'ll|'ve|\s+are|\s+will|\s+have|\s+am)\s+(?:now\s+|also\s+|just\s+)?"
    r"(?:checking|check|looking\s+into|look\s+into|investigat\w+|asking|contacting|contact"
    r"|send(?:ing)?\s+you|confirm(?:ing)?|pass(?:ing)?\s+your\s+request)\b"
    r"|\b(?:let|keep)\s+you\s+(?:know|updated|posted)\b"
    r"|\bget\s+back\s+to\s+you\b"
    r"|\bmake\s+sure\s+to\s+check\b",
    re.IGNORECASE,
)
# Anything in the email that asks for something or reports a problem (wide: see the docstring).
_ASKS = re.compile(
    r"\?|\b(?:please|pls|could\s+(?:you|i|we|it|someone)|can\s+(?:you|i|we|it|someone|they)"
    r"|would\s+(?:you|it\s+be|there)|will\s+(?:you|it|there)|how\s+(?:do|does|can|to|long"
    r"|much|many|should|would|could)|is\s+(?:there|it)|are\s+there|does\s+(?:it|this|that|the"
    r"|my|your)|do\s+you|(?:when|where)\s+(?:will|can|do|does|is|are|should)|why|let\s+me\s+know"
    r"|wonder|curious|question|need\s+(?:a|an|to|the|my|some|help|it|one)|like\s+to\s+(?!say"
    r"|thank|tell|share|let)|request|problem|issue|trouble|broke|crack|damag|fault|defect|error"
    r"|fail|won't|wont|doesn't|does\s+not|didn't|did\s+not|can't|cannot|isn't|not\b"
    r"|no\s+longer|stopp|leak|missing|lost|late|delay|wrong|refund|return|replac|cancel|charg"
    r"|bill|invoice|exchange|repair|still|yet|urgent|asap|disappoint|annoy|upset|angry|unhappy"
    r"|sadly|unfortunately|however|but)",
    re.IGNORECASE,
)
# Asking the customer which product the email is about, or its name.
KNOWN_ASK = re.compile(
    r"\bwhich\s+(?:product|item)\b|\b(?:the\s+)?name\s+of\s+(?:the|your)\s+(?:product|item)\b"
    r"|\b(?:the|your)\s+product's\s+name\b",
    re.IGNORECASE,
)
# Asking the customer for a secret support never needs and must never hold: a password, a PIN,
# a card's number or security code ("Could you tell us which account you use and the password
# for?"). Support sending a reset link ("we'll send a fresh password reset link") asks nothing.
SECRET_ASK = re.compile(
    r"\b(?:you|please)\s+(?:\w+\s+){0,2}?(?:tell|send|give|share|reply\s+with|provide|confirm"
    r"|type|include|let\s+us\s+know)\b[^.?!\n]{0,60}?\b(?:password|passcode|pin(?:\s+code)?"
    r"|security\s+code|cvv|cvc|card\s+number|verification\s+code|one-time\s+code)s?\b"
    r"(?!\s+reset)",
    re.IGNORECASE,
)
# Asking the customer for the order number ("Could you reply with your order number, so we can
# find the right order?"), which the model asks of every email it cannot place.
ORDER_ASK = re.compile(
    r"\b(?:send|reply\s+with|tell|give|share|provide|include|confirm|let\s+us\s+know|what\s+is"
    r"|what's)\b[^.?!\n]{0,40}?\b(?:your|the)\s+order\s+(?:number|no\b|#|id\b|reference)",
    re.IGNORECASE,
)
# An order number the email gives: "order 10557", "(order\n8731)", "order no. 4471", "#10482".
_ORDER_GIVEN = re.compile(
    r"\border\b[^\d.?!]{0,25}\d{4,}|#\s?\d{4,}\b", re.IGNORECASE)
# The product part of a question that asks for more: "which product this is about and ".
_PRODUCT_PART = re.compile(
    r"\bwhich\s+(?:product|item)(?:\s+(?:this|it)\s+is\s+(?:about|for))?,?\s+and\s+",
    re.IGNORECASE,
)


def asks_for_nothing(source: str, sentiment: Sentiment) -> bool:
    """Whether the email (``source``, quoted history and all) is positive and its newly written
    text neither asks for anything nor reports a problem: praise or thanks, nothing to do."""
    if sentiment != "positive":
        return False
    new_text = split_thread(source[:ASK_WINDOW_CHARS]).new_text
    return not _ASKS.search(new_text)


def needless_follow_ups(draft: str, source: str, sentiment: Sentiment) -> list[str]:
    """The words of ``draft`` that promise a check or an update (see the module docstring),
    when the email asks for nothing; empty otherwise."""
    found = [m.group(0) for m in FOLLOW_UP.finditer(draft)]
    return found if found and asks_for_nothing(source, sentiment) else []


def needless_questions(draft: str, entities: Entities) -> list[str]:
    """The words of ``draft`` that ask for a secret (:data:`SECRET_ASK`), or which product the
    email is about when the analysis found the product it names."""
    secrets = [m.group(0) for m in SECRET_ASK.finditer(draft)]
    if not any(p.strip() for p in entities.product):
        return secrets
    return secrets + [m.group(0) for m in KNOWN_ASK.finditer(draft)]


def known_order_asks(draft: str, source: str) -> list[str]:
    """The words of ``draft`` that ask for the order number, when the email (``source``, at
    most ``ASK_WINDOW_CHARS`` of it) gives one."""
    if not _ORDER_GIVEN.search(source[:ASK_WINDOW_CHARS]):
        return []
    return [m.group(0) for m in ORDER_ASK.finditer(draft)]


def drop_known_asks(draft: str, entities: Entities) -> str:
    """``draft`` with the product taken out of questions that ask for it and for more, when the
    analysis found the product: "Could you tell us which product this is about and the order
    number?" becomes "Could you tell us the order number?". Other such questions are left for
    the mend to delete whole."""
    if not any(p.strip() for p in entities.product):
        return draft
    return _PRODUCT_PART.sub("", draft)
