"""A support case the email never raised: a reply model's most believable invention.

Given mail that is not a support request (a newsletter, a digest, a note between colleagues),
the reply model still writes the support reply it was trained on: "I'm sorry that your parcel
has been taken", "we're checking whether your account has been suspended", "we'll send you the
payment confirmation". Each reads as a real answer and is wrong. :func:`invented_case` finds the
claims of three kinds of case (a delivery, a payment, an account problem) that the email gives
no ground for: none of the words of that kind of case occur in it, nor a near miss of one (a
typo). The grounding words are wide on purpose ("order", "bought" and a currency sign ground a
payment), so an email that raises a case in its own words is not mistaken for one that does
not; the words of every newsletter footer ("subscribe", "sign up") ground nothing. A fourth
kind is thanks for praise the email never gave ("thank you for the kind message about your
free sample!" to spam), grounded by any word of praise or thanks.

Two more kinds are another case's answer to customer mail, which a reply adapter that writes
the generator's sentences fluently gets wrong whole: return instructions to a late parcel, a
setup problem or a billing question ("We'll send you the return instructions in a separate
email."), and a fault or repair to an item that has none ("... will help us decide between a
new one and a repair" to a wrong item). They are grounded by any word of a return, an exchange
or a fault, and by whatever makes a customer send something back ("going back", "store
credit", "flimsy").

Pure and bounded: a fixed set of regular expressions without nested unbounded repetition,
and the near-miss search compares at most 1,000 words of the email, each only with the
ground words that share its first two letters.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

# (kind, a claim of that kind in a draft, any ground for it in the email)
_CASES: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    (
        "delivery",
        re.compile(r"\b(?:parcels?|packages?|couriers?|deliver(?:y|ies|ed)|shipments?|"
                   r"tracking)\b", re.IGNORECASE),
        # Not "sent" or "got": "Sent from my phone" and quoted headers carry them everywhere.
        re.compile(r"\b(?:parcel|package|courier|deliver|ship|track|dispatch|arriv|post(?:ed|al|"
                   r"age)?\b|mailed|order|box|driver|doorstep|porch|neighbou?r|address|"
                   # Not "rout": it grounded a courier in a "router".
                   r"rout(?:e|es|ed|ing)\b|warehouse|collect|pick(?:ed)? ?up|return|exchange|"
                   r"replac|due\b|wait|receiv|came\b|shown up|turn(?:ed)? up|where is|estimat|"
                   r"seen it|late\b|lost\b|missing|stolen)",
                   re.IGNORECASE),
    ),
    (
        "payment",
        # Not "refund": the replies offer one as policy for a broken item, as they do a
        # replacement (handlers.checks leaves both out of the commitments for that reason).
        re.compile(r"\b(?:charged|charges?|payments?|invoices?|billing|billed|receipts?|bank)\b",
                   re.IGNORECASE),
        re.compile(r"[$€£¥]|\b(?:refund|charg|pa(?:y|id)|invoice|bill|bank|card|money|price|"
                   r"cost|fee|subscription|receipt|purchas|bought|buy|order|debit|credit|paypal|"
                   r"transaction|account|cancel|renew|dollar|euro|pound|cash|wallet)",
                   re.IGNORECASE),
    ),
    (
        "account",
        re.compile(r"\baccount (?:has|had|is|was)(?: been)? (?:\w+ ){0,2}?(?:flagged|suspended|"
                   r"locked|closed|blocked|hacked|compromised|deactivated|disabled|banned|"
                   r"frozen|marked|terminated)\b|\bpasswords?\b", re.IGNORECASE),
        # Not "subscribe", "member" or "sign": every newsletter's footer has them.
        re.compile(r"\b(?:account|password|log ?in|logg(?:ed|ing) ?in|sign(?:ed|ing)?[ -]?in\b|"
                   r"username|profile|suspend|lock|flag|block|hack|verif|two-factor|2fa|"
                   r"subscription)", re.IGNORECASE),
    ),
    (
        # Thanks for praise nobody gave: "Thank you for the kind message about your free
        # sample!" to spam, "your kind words" to a news item (32 of 179 drafts of real mail).
        "praise",
        re.compile(r"\b(?:kind (?:message|words?|note|feedback|review|comments?)|your kindness|"
                   r"your (?:lovely |kind )?(?:thanks|compliments?|praise)|(?:the|your) thanks\b|"
                   r"thank-you (?:message|note))", re.IGNORECASE),
        # Wide: praise comes in many words ("went out of their way", "on time", "sorted").
        re.compile(r"thank|thx|\bty\b|grateful|appreciat|great|lov(?:e|ed|ing)\b|kind|happy|"
                   r"pleased|glad|delight|thrill|excellent|wonderful|amazing|awesome|brilliant|"
                   r"fantastic|superb|perfect|impress|recommend|well done|good job|nice|lovely|"
                   r"best|helpful|quick|fast|smooth|easy|on time|out of (?:their|his|her|your|the) "
                   r"way|above and beyond|cheers|kudos|prais|compliment|\bstars?\b|enjoy|pleasure|"
                   r"satisf|top notch|spot on|works? (?:great|well|perfectly)|fixed|solved|sorted",
                   re.IGNORECASE),
    ),
    (
        "return",
        # Not "in return" ("... the latest steps in return").
        re.compile(r"(?<!\bin )\breturn(?:s|ed|ing)?\b|\bsend(?:ing)? (?:it|them|the \w+) back\b",
                   re.IGNORECASE),
        # Word starts only: "mix" is in "stand mixer", "dent" in "president".
        re.compile(r"\b(?:return|send (?:it |them |this |that )?back|sending (?:it |them )?"
                   r"back|refund|exchang|swap|wrong|mix(?:-? ?up|ed)\b|not what I ordered|replac|"
                   r"unwanted|don't (?:want|need)|changed my mind|cancel|unopened|haven't opened|"
                   r"broke|damag|fault|defect|smash|crack|"
                   r"(?:go|going|goes|sent|taking) (?:it |them )?back|store credit|money back|"
                   r"original (?:box|packaging)|flimsy|not worth)",
                   re.IGNORECASE),
    ),
    (
        "fault",
        # Not a bare "fault": "that wasn't your fault" blames nothing on the product.
        re.compile(r"\b(?:damage[ds]?|faulty|(?:photo|description) of the fault|repairs?|repaired|"
                   r"broken|defect(?:s|ive)?)\b", re.IGNORECASE),
        re.compile(r"\b(?:broke|damag|fault|crack|smash|defect|stop|doesn't work|does not work|"
                   r"not work|won't|wont\b|dead\b|repair|leak|burn|stuck|problem|error|fail|"
                   r"malfunction|nois[ey]|stick(?:s|ing|y)?\b|reset|drop|dent(?:s|ed)?\b|scratch|"
                   r"shatter|tear|torn\b|ripped|bent\b|loose|overheat|smell|spark|flicker|beep|"
                   r"issue|warrant|trouble)", re.IGNORECASE),
    ),
)

# What a draft says of each kind of case: the sentences a mended draft leaves out
# (handlers.repair).
CLAIMS: dict[str, re.Pattern[str]] = {kind: claim for kind, claim, _ in _CASES}


# Ground words a typo may hide ("delivvery driiver", "arrrived"): a word of the email this
# similar to one of them grounds its kind too. Looked for only when no exact ground was found.
_NEAR: dict[str, tuple[str, ...]] = {
    "delivery": ("delivery", "delivered", "driver", "arrived", "parcel", "package", "courier",
                 "shipping", "shipped", "tracking", "order", "ordered", "replacement"),
    "payment": ("payment", "charged", "invoice", "refund", "billed", "purchase", "subscription",
                "order", "ordered", "bought"),
    "account": ("account", "password", "login", "username", "profile", "subscription"),
    "praise": ("thanks", "brilliant", "amazing", "excellent", "wonderful", "fantastic", "perfect",
               "awesome", "great", "lovely", "pleased", "delighted", "grateful", "appreciate",
               "helpful", "impressed", "recommend"),
    "return": ("return", "returned", "refund", "exchange", "replacement", "wrong"),
    "fault": ("broken", "damaged", "faulty", "cracked", "stopped", "problem", "repair"),
}
NEAR_SIMILARITY = 0.8
# Words of the email looked at, at most: a bound on the work per draft (the checks run on the
# event loop). A typo in a ground word sits in what the customer wrote, near the start.
_NEAR_MAX_WORDS = 1000
# Words of the email compared, by their shortest length: 5 here, 3 in handlers.checks_answer.
_WORDS = {length: re.compile(rf"[^\W\d_]{{{length},20}}") for length in (3, 5)}


def invented_case(draft: str, source: str) -> list[str]:
    """The kinds of case ("delivery", "payment", "account", "praise", "return", "fault")
    ``draft`` speaks of that ``source`` (the email) gives no ground for, in that order; empty
    when every claim is grounded."""
    found = []
    words: dict[str, set[str]] | None = None
    for kind, claim, ground in _CASES:
        if not claim.search(draft) or ground.search(source):
            continue
        if words is None:
            words = words_by_prefix(source)
        if not near(words, _NEAR[kind]):
            found.append(kind)
    return found


def nearly_mentions(source: str, targets: tuple[str, ...], prefix: int = 2) -> bool:
    """Whether one of the first words of ``source`` is a near miss of a target (see
    :func:`_near`); words are compared with the targets that share their first ``prefix``
    letters."""
    return near(words_by_prefix(source, prefix), targets, prefix)


def words_by_prefix(source: str, prefix: int = 2, shortest: int = 5) -> dict[str, set[str]]:
    """The first words of ``source`` (lower case, letters only, ``shortest`` (3 or 5) to 20
    letters), by their first ``prefix`` letters."""
    words: dict[str, set[str]] = {}
    for match, _ in zip(_WORDS[shortest].finditer(source), range(_NEAR_MAX_WORDS), strict=False):
        word = match.group(0).casefold()
        words.setdefault(word[:prefix], set()).add(word)
    return words


def near(words: dict[str, set[str]], targets: tuple[str, ...], prefix: int = 2,
         similarity: float = NEAR_SIMILARITY) -> bool:
    """Whether a word is a near miss of a target ("delivvery" of "delivery"), at least
    ``similarity`` alike. Only words that share the target's first ``prefix`` letters and
    nearly its length are compared."""
    for target in targets:
        for word in words.get(target[:prefix], ()):
            if abs(len(word) - len(target)) > 2:
                continue
            matcher = SequenceMatcher(None, word, target)
            if matcher.quick_ratio() >= similarity and matcher.ratio() >= similarity:
                return True
    return False
