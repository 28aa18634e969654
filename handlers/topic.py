"""What an email asks support for, read from its words: the request line of the reply prompt.

A 135M reply model reads a long, detailed email as the nearest case it was trained on, and
answers that case fluently: a refund three weeks late as a late parcel, a double charge as a
question about a plan (docs/DRAFTS.md). The words that name a case are rarely ambiguous to a
reader ("refund" with "returned", "charged twice", "locked out"), so :func:`classify` scores
them for each of the cases the reply adapter is trained on, and the reply prompt states the
winner ("Request: refund not received"), or "unclear" when no case clearly wins (a discount
code, a complaint about a driver), in which case the model reads the email alone.

Each case has a few patterns, strong (weight 3: a phrase that names the case) or weak (1: a word
that leans towards it); a pattern counts once, a match in the subject counts again. The case with
the highest score wins when it has at least :data:`MIN_SCORE` and no other case ties it. A fault
with the warranty named is a warranty claim. An email that asks as much for something no case
answers (a discount code, a price match, a quote, gift wrapping, personal data, stock, a
complaint about packaging or rudeness) reads as "unclear": the adapter's answer to the case
words it also carries ("without the code") would be another request's.

Pure, linear and bounded: at most :data:`WINDOW_CHARS` of the body; alternations of literal
words with bounded gaps, no nested unbounded repetition.
"""

from __future__ import annotations

import re

from handlers.thread import split_thread

WINDOW_CHARS = 4_000
MIN_SCORE = 3
UNCLEAR = "unclear"
# case -> the words the reply prompt states it with
LABELS: dict[str, str] = {
    "late_delivery": "late or missing delivery",
    "broken_item": "item arrived damaged or faulty",
    "wrong_item": "wrong item received",
    "billing": "billing or payment question",
    "return_request": "return an item",
    "cancellation": "cancellation",
    "feature_question": "question about a product",
    "setup_help": "help setting up a device",
    "praise": "praise",
    "support_thanks": "thanks for support",
    "missing_part": "part missing from the box",
    "refund_status": "refund not received",
    "warranty": "warranty",
    "address_change": "change of delivery address",
    "login_problem": "cannot log in",
}
_W = r"(?:\W+\w+){0,4}?\W+"  # up to four words between two words of one phrase


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_STRONG, _WEAK = 3, 1
_CASES: dict[str, tuple[tuple[re.Pattern[str], int], ...]] = {
    "late_delivery": (
        (_p(r"\b(?:has(?:n't| not)|have(?:n't| not)|never|not yet|still not)\s+(?:yet\s+)?"
            r"(?:arrived|shown up|turned up|been delivered|come|received|seen it|got (?:it|my))"),
         _STRONG),
        (_p(r"\bwhere(?:'s| is| are)\s+(?:my|the|our)\b|\bwhere (?:my|the|our)\b[^.?!\n]{1,60}?"
            r"\b(?:is|are)\b"), _STRONG),
        (_p(r"\bstill waiting\b|\bnot (?:been )?delivered\b|\b(?:late|delayed) (?:delivery|order|"
            r"parcel|package)|\bdelivery (?:status|estimate)|\bwas (?:due|supposed to arrive)"),
         _STRONG),
        (_p(r"\b(?:could|can) ?not be delivered|\bunable to (?:\w+ )?deliver|"
            r"\b(?:tried|attempted) to deliver|\bnobody (?:knocked|rang|came|come)\b|\bmissed "
            r"(?:the )?delivery|\bredeliver"), _STRONG),
        # "Tracking hasn't moved for six days", "where is it?", "says delivered but ...".
        (_p(r"\b(?:tracking|status|parcel|package|order|link|courier)\b[^.?!\n]{0,80}?\b(?:has(?:n't"
            r"| not)|hasnt|not)\s+(?:moved|changed|updated|been updated)\b|\bwhere(?:'s| is) it\b|"
            r"\bwhere it is\b|\bis it (?:actually |even |still )?"
            r"coming\b|\b(?:says|said|shows?|showing|marked)(?: as)?\W+(?:\w+\W+){0,2}?"
            r"(?:delivered|handed to)"), _STRONG),
        (_p(r"\btrack(?:ing)?\b|\bcourier\b|\bin transit\b|out for delivery|\bdue\b|"
            r"\bestimated\b"), _WEAK),
    ),
    "broken_item": (
        (_p(r"\barrived\s+(?:\w+\s+){0,3}?(?:broken|damaged|cracked|smashed|dented|shattered)|"
            r"\b(?:cracked|smashed|shattered)\b|\bdamaged\b|\bbroke(?:n)?\b|\bcracks?\b|"
            r"\bsnapped\b|\bin (?:bits|pieces)\b|\bleak(?:s|ing|ed)?\b|\b(?:just )?died\b"),
         _STRONG),
        (_p(r"\bstopped working|won't (?:turn|switch) on|doesn't (?:turn|switch) on|\bdefective\b|"
            r"\bfaulty\b|\bclicking noise|\bburning (?:\w+ )?smell|\bsmell of (?:burning|hot)|"
            r"\btrip(?:s|ped)? (?:the|our|my) (?:electrics|fuse|power|switch)|"
            r"\bgone (?:completely )?"
            r"(?:silent|dead)\b|\bno sound\b|\bstill (?:stops|cuts out|won't work|doesn't work)"),
         _STRONG),
        (_p(r"\bnot working\b"), _WEAK),
    ),
    "wrong_item": (
        (_p(r"\bwrong\s+(?:\w+\s+)?(?:item|model|colou?r|size|product|version|one|thing|parcel|"
            r"order)\b|\binstead of\b|not what I ordered|\bmix-?up\b|someone else's|"
            r"doesn't (?:match|contain)|sent (?:me )?the wrong|something (?:completely|totally) "
            r"different"), _STRONG),
        # "what turned up is the 500", "inside is a sandwich toaster", "the ones I paid for".
        (_p(r"\bwhat (?:turned up|arrived|came|I got|I received) (?:is|was)\b|\binside (?:is|was) "
            r"(?:a|an)\b|\bthe box says\b|\bthe (?:one|ones|thing|model) I (?:actually )?"
            r"(?:paid for|ordered|bought)\b|\b(?:I|we) (?:paid for|ordered) the\b[^.?!\n]{0,60}?"
            r"\b(?:but|and) (?:got|received)\b"), _STRONG),
    ),
    "billing": (
        (_p(r"\bcharged (?:me )?twice\b|\bdouble[- ]charged?\b|\btwo (?:separate |different )?"
            r"(?:charges|payments)\b|\bduplicate (?:charge|payment)|\bovercharged\b"), _STRONG),
        (_p(r"\bafter I(?: had)?(?: already)? cancell?ed\b"), _STRONG),
        (_p(r"\b(?:took|taken|take) (?:the )?money\b|\bcharged\b" + _W + r"after\b|"
            r"\ba charge (?:on|for|from)\b|\bdon't recogni[sz]e|\b(?:went|gone|taken|came|come) "
            r"(?:out )?(?:of|from) my (?:\w+ )?(?:account|card)\b"), _STRONG),
        # Not "billing period": a cancellation at the end of one is no billing question.
        (_p(r"\binvoices?\b|\bbilling\b(?! period| cycle)|\bbilled\b|\b(?:my|the|this) bill\b|"
            r"\breceipts (?:for|from)|\bcop(?:y|ies) of (?:the |my )?receipts?"), _STRONG),
        (_p(r"\bbank statement|\bcard statement|\bcharges?\b|\bcharged\b|\bpayments?\b"),
         _WEAK),
    ),
    "return_request": (
        (_p(r"\b(?:want|like|need|wish|hoping)\s+to\s+(?:return|send back)\b|"
            r"\bsend(?:ing)? (?:it|this|them|these) back\b|"
            r"\bgoing back\b(?! and forth| to (?:you|the sender|sender))|"
            r"\breturn (?:label|policy|it|this|them)\b|"
            r"\bhow do I (?:return|send back)|\bpossible to return\b"), _STRONG),
        (_p(r"\breturn(?:ing)?\b"), _WEAK),
    ),
    "cancellation": (
        (_p(r"(?<!noise )(?<!noise-)\bcancel(?:l?ed|l?ing|lation)?\b|\bstop\b(?:\W+\w+){0,3}?\W+"
            r"before it (?:ships|is (?:sent|shipped|dispatched))|\b(?:same order|ordered it) twice "
            r"by mistake"), _STRONG),
        (_p(r"\bsubscription\b|\bmembership\b|\bunsubscribe"), _WEAK),
    ),
    "feature_question": (
        (_p(r"\bbefore (?:I|we) (?:buy|order|purchase|place)|\b(?:one|a|quick) question\b|"
            r"\bquestions? (?:\w+ ){0,4}?before (?:I |we )?(?:buy|order|purchas)|\b(?:thinking|"
            r"planning) (?:of|about|to) (?:buy|order|get)(?:ing)?\b|\bconsidering (?:buying|"
            r"ordering)\b"), _STRONG),
        (_p(r"\bis there (?:a|an|any)\b[^.?!\n]{0,60}\?|\bis it (?:compatible|possible)\b|"
            r"\bcompatible with\b"), _STRONG),
        (_p(r"\b(?:can|does|do|will)\b[^.?!\n]{0,60}?\b(?:be used|work with|run (?:off|from|on)|"
            r"turn (?:off|on) the|support|come with|have a)\b[^.?!\n]{0,60}\?"), _STRONG),
        (_p(r"\bcompatible\b|\bsupport(?:s|ed)?\b|\bfirmware\b|\bfeature|\b(?:want|looking) to "
            r"(?:buy|order)\b"), _WEAK),
    ),
    "setup_help": (
        (_p(r"\bset(?:ting)?[- ]?up\b(?! took| was)|\bwon't connect\b|"
            r"can't (?:connect|find it|pair)|\bpair(?:ing|ed)\b|\bpair (?:it|them|with)\b|"
            r"\bcalibrat|\bconnection failed\b|\b(?:getting|get) (?:it|them) to "
            r"(?:work|connect|show up|appear)\b|\b(?:show|shows|showing) up in the app\b|"
            r"\bjoin (?:it |them )?to (?:the |my )?(?:home )?wi-?fi\b"),
         _STRONG),
        (_p(r"\bdrop(?:s|ping)? (?:off|out)\b|\bdisconnect|\b(?:unable|fails?) to connect|"
            r"\bconnect to (?:the |my )?(?:wi-?fi|network|app)"), _STRONG),
        (_p(r"\bwi-?fi\b|\bnetwork\b|\brouter\b|\bapp\b|\binstall|\bmanual\b|\breset\b|"
            r"\bstatus light"), _WEAK),
    ),
    "praise": (
        (_p(r"\b(?:love|loving|adore)\b|\b(?:so|very|really) happy with\b|\bbest thing\b|"
            r"\bfantastic\b|\bbrilliant\b|\bamazing\b|\bimpressed\b|\bjust wanted to say\b|"
            r"\bwent out of (?:their|his|her) way|\bhow happy\b|\bgame[- ]?changer\b|"
            r"\bobsessed with\b"), _STRONG),
        (_p(r"\bthank(?:s| you)\b|\bgreat\b|\bhappy\b|\bdelighted\b|\brecommend"), _WEAK),
    ),
    "support_thanks": (
        (_p(r"\bthank(?:s| you)(?: so much| again)? for (?:the help|all (?:the|your) help|helping|"
            r"sorting|fixing|resolving|your patience with me)|"
            r"\b(?:sorting|sorted) (?:it |this |that )?out\b|\bworking again\b|"
            r"\bproblem solved\b|\bwalk(?:ing|ed)? me through\b|\bdid the trick\b|\b(?:the|your) "
            r"(?:update|fix|tip|steps|instructions|advice) (?:did it|worked|fixed)"), _STRONG),
        (_p(r"\byour colleague\b|\b(?:agent|representative|rep)\b|\b(?:so|incredibly|very) "
            r"(?:helpful|patient)\b|\bpass (?:on )?my thanks|"
            r"\b(?:she|he) (?:was|were) (?:so |very |incredibly |really )?"
            r"(?:helpful|patient|kind|lovely)\b|\bspoke (?:to|with)\b|"
            r"\bon the (?:phone|chat)\b"), _STRONG),
    ),
    "missing_part": (
        (_p(r"\bmissing\b|\bwas(?:n't| not) in the (?:box|bag|package)|\bweren't in\b|\bno "
            r"(?:\w+ ){0,2}(?:in the box|included)|\b(?:arrived|came|delivered|sent)\b"
            r"(?:\W+\w+){0,4}?\W+without the\b|\bonly half\b|\bhalf (?:of )?(?:my|the) order\b|"
            r"\bempty (?:\w+ )?(?:slot|hole|space|compartment)\b|\bshould be two\b"), _STRONG),
        (_p(r"\bin the box\b|\bpacking (?:list|slip)\b|\baccessor(?:y|ies)\b"), _WEAK),
    ),
    "refund_status": (
        (_p(r"\b(?:no|any|my|the)\s+refund\b(?:\W+\w+){0,6}?\W+(?:yet|arrived|received|come "
            r"through|processed|shown up)|\b(?:have(?:n't| not)|not|never|still)\s+(?:\w+\s+)?"
            r"(?:seen|received|got|had)\s+(?:\w+\s+)?refund|\bwhere is my (?:refund|money)|"
            r"\brefund status\b|\bstill no refund\b|\bhow long does a refund|\brefund for\b"),
         _STRONG),
        (_p(r"\b(?:I|we) (?:returned|sent (?:it |them )?back)\b|\bRMA\b|\b(?:I|we) sent\b"
            r"(?:\W+\w+){1,4}?\W+back\b"), _STRONG),
        (_p(r"\bmoney (?:still )?(?:hasn't|has not|hasnt) (?:yet )?(?:come back|arrived|been "
            r"(?:returned|refunded))|\bmoney back yet\b"), _STRONG),
        # "REFUND STILL NOT RECEIVED", "still hasn't appeared on my card".
        (_p(r"\brefund\W+(?:still\W+)?(?:not|never|hasn't|has not)\W+(?:been\W+)?(?:received|"
            r"arrived|come|appeared|paid)|\b(?:hasn't|has not|hasnt|nothing has|not) (?:yet )?"
            r"(?:come back|appeared|shown up|arrived|gone back)\W+(?:\w+\W+){0,2}?(?:on|to|in) my "
            r"(?:\w+ )?(?:card|account|bank)"), _STRONG),
        (_p(r"\brefund"), _WEAK),
    ),
    "warranty": (
        (_p(r"\bwarrant(?:y|ies)\b|\bguarantee\b|\bstill (?:be )?covered\b|\bcover(?:s|ed)? (?:it|"
            r"this|them) for\b|\bcovered for (?:\w+ )?(?:years?|months)\b"), _STRONG),
        (_p(r"\bcovered\b|\bclaim\b|\bmanufacturer\b"), _WEAK),
    ),
    "address_change": (
        # Not an email address: changing the one an account signs in with is a login case.
        (_p(r"\b(?:change|update|correct|edit)\b" + _W + r"(?<!email )(?<!e-mail )add?ress|"
            r"\bnew add?ress\b|\bold (?:flat|house|"
            r"add?ress|apartment)|\bmoved (?:house|flat|home)\b|\b(?:I|we)(?:'ve| have)? (?:just |"
            r"recently )?moved\b(?! (?:the|it|my|our|them)\b)"), _STRONG),
        # "could it come to my office instead?", "redirect it".
        (_p(r"\b(?:come|go|send|sent|deliver|delivered)\b(?:\W+\w+){0,3}?\W+to my (?:office|work|"
            r"workplace)\b|\bredirect"), _STRONG),
        (_p(r"\badd?ress\b" + _W + r"(?:chang|correct|updat)"), _STRONG),
    ),
    "login_problem": (
        (_p(r"\blog(?:ged)? ?in\b|\bsign(?:ing)? ?in\b|\blocked out\b|"
            r"(?<!wifi )(?<!wi-fi )(?<!network )(?<!router )\bpassword\b"), _STRONG),
        (_p(r"\breset (?:email|link)\b|\baccount\b"), _WEAK),
    ),
}

# What support is asked for beyond the cases (a discount code, a price match, a quote, gift
# wrapping, a complaint about packaging or staff, personal data, stock): an email that asks
# for one of these as much as for any case reads as no case, since the adapter has no answer
# for it and would answer the case instead ("the missing part" for a code that fails).
_ELSEWHERE: tuple[tuple[re.Pattern[str], int], ...] = (
    (_p(r"\b(?:discount|promo(?:tion(?:al)?)?|voucher|coupon) ?codes?\b|\bcode\b[^.?!\n]{0,40}"
        r"\bnot valid\b|\bprice[- ]?match|\bcheaper (?:elsewhere|at|on)\b|\bbeat (?:the|their) "
        r"price"), _STRONG),
    (_p(r"\bgift[- ]?wrap|\bgift (?:message|note|receipt)|\b(?:a|the|your) quote\b|\bquotation\b|"
        r"\b(?:bulk|trade|wholesale) (?:order|discount|price|pricing)"), _STRONG),
    (_p(r"\b(?:minimal|less|excessive|too much|plastic|unnecessary) packaging\b|\blayers of "
        r"packaging|\bGDPR\b|\bpersonal data\b|\b(?:delete|erase|close) (?:my|the) (?:customer )?"
        r"(?:account|data)|\b(?:back in|out of) stock\b|\brestock|\brude\b|\bswearing\b"), _STRONG),
    (_p(r"\bpackaging\b"), _WEAK),
)
# The cases that win over praise when an email raises both.
_BEFORE_PRAISE = ("feature_question", "support_thanks")


def scores(subject: str, body: str) -> dict[str, int]:
    """Every case's score for an email (see the module doc); the quoted thread is not read."""
    return _scores(subject, _read(body))


def _read(body: str) -> str:
    """The part of ``body`` the reader reads: its new text within :data:`WINDOW_CHARS`."""
    return split_thread(body[:WINDOW_CHARS]).new_text


def _scores(subject: str, read: str) -> dict[str, int]:
    return {case: _score(patterns, subject, read) for case, patterns in _CASES.items()}


def _score(patterns: tuple[tuple[re.Pattern[str], int], ...], subject: str, body: str) -> int:
    return sum(weight * (bool(pattern.search(body)) + bool(pattern.search(subject)))
               for pattern, weight in patterns)


def classify(subject: str, body: str) -> str | None:
    """The case an email raises, or None when none clearly wins."""
    return read_request(subject, body)[0]


def leaning(subject: str, body: str) -> frozenset[str]:
    """The cases an email's words lean towards (see :func:`read_request`)."""
    return read_request(subject, body)[1]


def read_request(subject: str, body: str) -> tuple[str | None, frozenset[str]]:
    """The case an email raises (None when none clearly wins), and, when none does, the cases
    its words lean towards without naming one: those of the highest score above 0 (a weak word
    each, or a tie), none when it asks for something no case answers (a discount code). For an
    email left unclear, the request adapter's case is taken only when it is one of these
    (:mod:`handlers.topic_model`). One pass over the words for both."""
    read = _read(body)
    raw = _scores(subject, read)
    elsewhere = _score(_ELSEWHERE, subject, read)
    found = dict(raw)
    for specific in _BEFORE_PRAISE:
        if found[specific] >= MIN_SCORE and found["praise"] >= found[specific]:
            # Praise is what any happy email carries; a question in it ("brilliant so far. Can
            # I turn off the beep?") or thanks for someone's help is what it asks a reply for.
            found["praise"] = found[specific] - 1
    if found["warranty"] >= MIN_SCORE and found["broken_item"] >= found["warranty"]:
        found["broken_item"] = found["warranty"] - 1  # a fault and the warranty: a claim
    ranked = sorted(found.items(), key=lambda item: -item[1])
    (best, top), (_, second) = ranked[0], ranked[1]
    if elsewhere < max(top, MIN_SCORE) and top >= MIN_SCORE and top > second:
        return best, frozenset()
    most = max(raw.values())
    if most == 0 or elsewhere >= MIN_SCORE:
        return None, frozenset()
    return None, frozenset(case for case, score in raw.items() if score == most)


def label(subject: str, body: str) -> str:
    """The request line's words: a case's label, or :data:`UNCLEAR`."""
    case = classify(subject, body)
    return LABELS[case] if case else UNCLEAR


_CASES_BY_LABEL = {text: case for case, text in LABELS.items()}


def case_of(request: str) -> str | None:
    """The case a request line's words (:func:`label`) state; None for "unclear" or ""."""
    return _CASES_BY_LABEL.get(request)
