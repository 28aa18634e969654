"""Whether an email reads as something for support at all.

Mail that reaches a support address and passes the header and footer rules
(:mod:`daemon.mail`, :mod:`handlers.bulk`) is not all customers' mail: a news item a friend
sent on, a thread between colleagues, spam without an opt-out footer. The reply model still
answers it as a support case ("I'm sorry that your parcel wasn't delivered" to a news item
about a bank robbery), and its draft can pass every check, since each sentence is plausible on
its own. :func:`reads_as_request` tells such mail by what it lacks: no word of the things
customers write to support about (an order, a product, an account, a payment, a delivery, a
fault, a question for help, still waiting) in its subject, newly written text or the quoted
thread it answers, and no product the analysis found. A draft of such mail goes out marked
for review (reason ``no_request``), not dropped: a person decides.

Wide on purpose, like the other grounds: one such word anywhere is enough, so a customer who
writes in few words is still answered without review. Measured in docs/TRIALS.md.

Pure and bounded: one regular expression without nested unbounded repetition over at most
``WINDOW_CHARS`` of the new text and of the thread.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from handlers.prepare import Prepared
from handlers.types import EmailText, Entities

WINDOW_CHARS = 6_000
_SUPPORT = re.compile(
    r"\b(?:order|purchas|bought|buy|account|subscri|refund|charg|invoice|bill|paid|pay(?:ment)?"
    r"|deliver|parcel|package|ship|arriv|track|return|exchang|replac|warrant|broke|damag|defect"
    r"|faulty|repair|cancel|price|receipt|product|item|device|model|customer|support|service"
    r"|help|problem|issue|not\s+work|doesn't\s+work|won't|stopped|error|install|set\s?up"
    r"|connect|log\s?in|password|manual|instruction|question|waiting)",
    re.IGNORECASE,
)


def reads_as_request(email: EmailText, entities: Entities) -> bool:
    """Whether ``email`` (its subject, newly written text and the quoted thread it answers:
    "Still nothing, see below" asks what the quote asked) is about something support handles:
    a support word in it, or a product the analysis found (see the module doc)."""
    if any(p.strip() for p in entities.product):
        return True
    text = f"{email.subject}\n{email.body[:WINDOW_CHARS]}\n{email.thread[:WINDOW_CHARS]}"
    return bool(_SUPPORT.search(text))


def review_reasons(email: Prepared, found: Entities, reply_languages: Sequence[str],
                   language_min_score: float) -> tuple[str, ...]:
    """Why a person must read a draft whatever its text: the email tried to steer the model
    (``steering``), is in a language the reply model does not write well (``language``: not
    one of ``reply_languages``, told with at least ``language_min_score`` or by its script),
    asks support nothing (``no_request``), reads as another case to each of the two request
    readers (``request_disputed``: :mod:`handlers.topic_model`), or has its request line from
    the request adapter alone (``request_inferred``)."""
    foreign = (email.language not in reply_languages and email.language != "und"
               and (email.language_score >= language_min_score or email.non_latin))
    reasons = {"steering": email.steering, "language": foreign,
               "no_request": not reads_as_request(email.text, found),
               "request_disputed": email.request_disputed,
               "request_inferred": email.request_inferred}
    return tuple(reason for reason, holds in reasons.items() if holds)
