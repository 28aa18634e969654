"""Another request's answer: the reply adapter's fluent misread.

The reply adapter learned its answers from the generator's replies, one answer sentence per
kind of request (:data:`models.synth.reply_lists.REPLY_ANSWERS`), and writes them nearly word
for word. On mail unlike the generator's it often picks the wrong one, whole and fluent: "We've
asked the courier for the latest tracking details" to a thermostat that will not join the Wi-Fi,
"Could you tell us roughly how far the device is from your router" to a speaker that will not
turn on. Every sentence is plausible on its own, so no other check sees it.

:func:`misread_answers` finds each sentence of a draft that carries a request's answer
(:func:`models.synth.answers.closest_answer`: half its words shared with one of that
request's sentences) while the email has none of the words that raise that request ("where
is", "still waiting", "tracking" for a late parcel; "firmware" or "update" for a firmware
question). The grounds are wide, like :mod:`handlers.checks_case`'s: any one word is enough,
so a customer who asks in their own words is not mistaken for one who did not ask. Answers any
email can take (thanks for praise, "a product specialist will look into your question") have no
ground and are never flagged. A draft written by an adapter trained on other data carries none
of these sentences, and nothing is flagged.

A draft that carries one counts as ``invented_facts`` (:func:`handlers.checks.check_draft`),
and the mend deletes the sentence (:mod:`handlers.repair`): a holding reply that answers
nothing is a light edit for an agent, a wrong answer sent in the company's voice is not.

:func:`leaves_unanswered` says whether a first draft's misread answers leave its email without
one (reason ``answer_removed``): not when the email thanks and each misread answer is a thanks
answer ("we'll pass your thanks to the colleague who helped you" to praise for a product), since
the thank-you that remains is the whole reply. :func:`answers_nothing` says whether a draft is
made only of what surrounds an answer (the acknowledgement, a line of empathy, a note of other
products named, the closing: the generator's own sentences, each with :data:`FILLER_COVERAGE`
of its words and at most :data:`FILLER_EXTRA_WORDS` words beyond them and the email's) while its
email is not a thank-you note (reason ``no_answer``): "Thank you for getting in touch about your
return. We're happy to help with anything else you need." to a refund three weeks late.

Pure and bounded: at most 40 sentences of the draft, each compared with the fixed answer
sentences; one fixed regular expression per request over the email, and, only when it finds
nothing, a near-miss search over at most 1,000 words of it for a few ground words (a typo:
"bepe" for "beep"). About 0.4 ms per draft on one core.
"""

from __future__ import annotations

import re

from handlers.checks_case import near, words_by_prefix
from handlers.checks_wording import APOLOGY, HOLDING, OPENINGS
from handlers.types import EmailText
from models.synth import reply_lists as R
from models.synth.answers import closest_answer

_I = re.IGNORECASE
# A parcel that is late or lost. Not "arrived" or "missing": "it arrived broken" and "the
# charger is missing from the box" raise another case.
_LATE = re.compile(
    r"where(?:'s| is| are)\b|hasn't (?:arrived|come|shown up|turned up|been delivered)|"
    r"has not (?:arrived|come|been delivered)|haven't (?:received|got|had|seen)|"
    r"have not (?:received|got|had|seen)|not (?:yet )?(?:arrived|received|delivered|here|come)|"
    r"never (?:arrived|came|received|turned up|showed up|got)|still (?:waiting|not|no\b|hasn't|"
    r"haven't|nothing)|waiting (?:for|on)|\blate\b|delay|overdue|\bdue\b|expected|estimat|track|"
    r"on (?:its|the) way|\blost\b|stuck|courier|in transit|out for delivery|dispatch|parcel|"
    r"package|shipping|shipped|deliver(?:y|ed)? (?:date|status|estimate|time)|when will", _I)
_FAULT = re.compile(
    r"broke|damag|fault|crack|smash|defect|stop|not work|n't work|won't|wont\b|dead\b|shatter|"
    r"\bdent|scratch|leak|burn|\btear|torn\b|bent\b|snap|overheat|nois[ey]|click|fail|"
    r"malfunction|issue|problem|trouble|warrant|power on|turn on|switch on|charg", _I)
_WRONG = re.compile(
    r"wrong|mix-? ?up|mixed up|not what I|instead of|someone else|different|(?:doesn't|does "
    r"not|don't) match|not the (?:one|right|model|colou?r|size|item)|incorrect|sent me", _I)
_BILLING = re.compile(
    r"charg|bill|invoice|\bpa(?:y|id)|money|refund|price|cost|\bfee|debit|credit|\bcard\b|bank|"
    r"statement|receipt|subscri|\bplan\b|renew|amount|[$€£]|account", _I)
_CANCEL = re.compile(
    r"cancel|terminat|\bend (?:my|the|it)|stop (?:my|the|it|paying)|close (?:my|the)|unsubscri|"
    r"\bquit|no longer (?:need|want|use)|opt out|don't (?:want|need) (?:it|this)", _I)
_SETUP = re.compile(
    r"set ?up|setting up|install|connect|pair|wi-? ?fi|\bapp\b|config|step|light|manual|"
    r"instruction|guide|can't|cannot|won't|doesn't|not work|screen|error|fail|reset|router", _I)
_NETWORK = re.compile(
    r"drop|disconnect|network|wi-? ?fi|connect|router|signal|offline|internet", _I)
_REFUND = re.compile(
    r"refund|money back|reimburs|credit(?:ed)? back|returned|sent (?:it |them )?back|"
    r"send (?:it |them )?back|\breturn", _I)
_MISSING = re.compile(
    r"missing|not in the box|(?:wasn't|weren't|was not|were not) (?:in|included)|"
    r"no \w+(?: \w+)? in the box|without (?:the|a|an|any)\b|didn't come with|did not come with|"
    r"left out|incomplete|lacking|only (?:one|two|half)|\bpart\b|\bparts\b|accessor|forgot", _I)
_ADDRESS = re.compile(
    r"address|\bmov(?:ed|ing)\b|new (?:house|flat|home|place|apartment)|street|post ?code|"
    r"\bzip\b|redirect|(?:send|deliver|ship) (?:it |them )?to", _I)
_LOGIN = re.compile(
    r"log ?in|logg(?:ed|ing) ?in|sign(?:ed|ing)? ?in|password|locked|account|reset|username|"
    r"2fa|two-factor|verification|access", _I)
_THANKS_FOR_HELP = re.compile(
    r"sort|fix|solv|resolv|working again|back up|help|patient|support|colleague|agent|\bcall\b|"
    r"phone|chat|staff|representative|explain", _I)

# request -> the words that raise it; requests missing here are answers any email can take.
GROUNDS: dict[str, re.Pattern[str]] = {
    "late_delivery": _LATE,
    "broken_item": _FAULT, "warranty_claim": _FAULT, "network_drops": _NETWORK,
    "wrong_item": _WRONG,
    "billing": _BILLING, "double_charge": _BILLING, "charged_after_cancel": _BILLING,
    "higher_invoice": _BILLING, "unknown_charge": _BILLING,
    "receipts": re.compile(r"receipt|invoice|expense|cop(?:y|ies)|statement|proof|vat\b|tax", _I),
    "annual_billing": re.compile(r"annual|yearly|\byear|monthly|switch|billing|plan", _I),
    "cancellation": _CANCEL, "cancel_button": _CANCEL, "cancel_period_end": _CANCEL,
    "timer": re.compile(r"timer|schedul|automatic|(?:switch|turn)(?:es|s|ed)? (?:it )?on|"
                        r"by hand|delay", _I),
    "firmware": re.compile(r"firmware|update|software|version|upgrade", _I),
    "older_phones": re.compile(r"phone|\bapp\b|android|iphone|\bios\b|mobile|tablet", _I),
    "car_socket": re.compile(r"\bcar\b|socket|camping|\b12 ?v|cigarette|\bvan\b|caravan|"
                             r"battery|power", _I),
    "travel_case": re.compile(r"\bcase\b|travel|\bbag\b|pouch|cover|carry", _I),
    "beep": re.compile(r"beep|sound|noise|chime|alert|\btone|quiet|mute|silen", _I),
    "setup_help": _SETUP, "reset_button": _SETUP,
    "manual_step": re.compile(r"manual|step|instruction|guide|pair|calibrat", _I),
    "support_thanks": _THANKS_FOR_HELP, "colleague": _THANKS_FOR_HELP,
    "driver": re.compile(r"driver|deliver|courier|postman|postie|\bvan\b", _I),
    "missing_part": _MISSING,
    "refund_status": _REFUND,
    "warranty": re.compile(r"warrant|guarantee|cover(?:ed|s)?\b|repair", _I),
    "address_change": _ADDRESS,
    "login_problem": _LOGIN, "login_email": _LOGIN,
}
# Ground words a typo may hide ("bepe", "tavel", "drvier"): a word of the email this similar to
# one of them grounds its request too. Looked for only when no exact ground was found.
_NEAR_WORDS: dict[str, tuple[str, ...]] = {
    "late_delivery": ("tracking", "courier", "parcel", "package", "delayed", "waiting"),
    "broken_item": ("broken", "damaged", "faulty", "cracked", "stopped", "problem"),
    "wrong_item": ("wrong", "different", "instead"),
    "billing": ("charged", "invoice", "billed", "payment", "refund", "subscription"),
    "receipts": ("receipt", "receipts", "invoice", "expense"),
    "cancellation": ("cancel", "cancelled", "canceled", "cancellation"),
    "timer": ("timer", "schedule"), "firmware": ("firmware", "update"),
    "older_phones": ("phone", "phones", "android", "iphone"), "car_socket": ("socket", "camping"),
    "travel_case": ("travel", "case"), "beep": ("beep", "sound", "noise"),
    "setup_help": ("setup", "connect", "install", "manual"), "manual_step": ("manual", "step"),
    "network_drops": ("network", "dropping", "connection", "router"),
    "support_thanks": ("sorted", "sorting", "fixed", "solved", "help", "helped", "again"),
    "driver": ("driver", "delivery", "courier"),
    "missing_part": ("missing", "without", "included"), "refund_status": ("refund", "returned"),
    "warranty": ("warranty", "guarantee", "covered"),
    "address_change": ("address", "moved", "moving", "street"),
    "login_problem": ("login", "password", "locked", "account", "reset"),
}
for _family in (("warranty_claim", "broken_item"), ("double_charge", "billing"),
                ("charged_after_cancel", "billing"), ("higher_invoice", "billing"),
                ("unknown_charge", "billing"), ("annual_billing", "billing"),
                ("cancel_button", "cancellation"), ("cancel_period_end", "cancellation"),
                ("reset_button", "setup_help"), ("colleague", "support_thanks"),
                ("login_email", "login_problem")):
    _NEAR_WORDS[_family[0]] = _NEAR_WORDS[_family[1]]
NEAR_SIMILARITY = 0.75  # looser than checks_case's: short words ("bep" for "beep") count here
_OWN_WORD = re.compile(r"[a-z']{4,}")
# Words a sentence may add to an answer without tying it to the email.
_COMMON = frozenset(
    "that this with your you'll you've we've we'll we're they them then than there their have "
    "will would could should about from into what when which while also just more most much "
    "very well good great right some soon sure once been being it's let's here back know".split())
# The sentences looked at: the split answers.answered_request uses, within each line.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
MAX_SENTENCES = 40
_SOURCE_CHARS = 6_000  # the part of the email the model sees


def misread(sentence: str, source: str,
            words: dict[str, set[str]] | None = None) -> bool:
    """Whether ``sentence`` answers a request that ``source`` (the email) gives no ground for:
    none of its words, no near miss of one, and none of the sentence's own words (those its
    closest answer lacks: "car socket" in "We're checking which car socket the device
    supports", closest to the older-phones answer) in the email. ``words``: the email's words
    (:func:`email_words`), when the caller has them."""
    closest = closest_answer(sentence)
    if closest is None or closest[0] not in GROUNDS:
        return False
    request, answer, _ = closest
    if GROUNDS[request].search(source):
        return False
    words = email_words(source) if words is None else words
    own = set(_OWN_WORD.findall(sentence.lower())) - answer - _COMMON
    return not (any(word in words.get(word[0], ()) for word in own)
                or near(words, _NEAR_WORDS.get(request, ()), prefix=1,
                        similarity=NEAR_SIMILARITY))


def misread_answers(draft: str, source: str) -> list[str]:
    """The sentences of ``draft`` that answer a request ``source`` (the email) gives no ground
    for, in order; empty when every answer is grounded or none is recognised."""
    words = email_words(source)
    return [s for s in sentences(draft) if misread(s, source, words)]


def sentences(text: str) -> list[str]:
    """The first :data:`MAX_SENTENCES` sentences of ``text`` (a draft), each within a line,
    stripped: what the draft checks read one by one."""
    return [sentence.strip() for line in text.splitlines()
            for sentence in _SENTENCE_END.split(line) if sentence.strip()][:MAX_SENTENCES]


def email_words(source: str) -> dict[str, set[str]]:
    """The first words of ``source`` (three letters or more, lower case) by first letter: what
    :func:`misread` looks for in it."""
    return words_by_prefix(source, prefix=1, shortest=3)


# Answers to a thank-you that a thank-you without them still answers.
THANKS_ANSWERS = frozenset({"support_thanks", "colleague"})


def leaves_unanswered(draft: str, email: EmailText, sentiment: str) -> bool:
    """Whether ``draft`` carries a misread answer (:func:`misread_answers`) whose deletion
    leaves ``email`` unanswered: any, unless the email is positive and every one is a thanks
    answer (:data:`THANKS_ANSWERS`)."""
    source = f"{email.subject}\n{email.body}"
    misread_requests = {closest[0] for sentence in misread_answers(draft, source)
                        if (closest := closest_answer(sentence)) is not None}
    return bool(misread_requests) and not (sentiment == "positive"
                                           and misread_requests <= THANKS_ANSWERS)


FILLER_COVERAGE = 0.8
FILLER_EXTRA_WORDS = 2
_FILLER_WORD = re.compile(r"[a-z']{3,}")


def _filler_words(template: str) -> frozenset[str]:
    return frozenset(_FILLER_WORD.findall(template.replace("{item}", " ").replace(
        "{extras}", " ").lower()))


# The generator's sentences around an answer; an acknowledgement also allows the words of the
# generic items it names ("your order", "the item you sent back").
_ITEM_WORDS = frozenset(word for items in R.REPLY_GENERIC.values() for item in items
                        for word in _FILLER_WORD.findall(item))
_FILLERS: tuple[tuple[frozenset[str], frozenset[str]], ...] = tuple(
    (words, words | _ITEM_WORDS) for words in map(_filler_words, (
        *(ack for by_mood in R.REPLY_ACKS.values() for acks in by_mood.values() for ack in acks),
        *R.REPLY_EMPATHY, *R.REPLY_CHASED, *R.REPLY_EXTRAS, R.REPLY_EXTRAS_SHORT,
        *(closing for closings in R.REPLY_CLOSINGS.values() for closing in closings),
        # what replyd writes itself: the mend's apology; a cut's opening and holding line
        APOLOGY, *OPENINGS.values(), HOLDING)))


def answers_nothing(draft: str, email: EmailText, sentiment: str) -> bool:
    """Whether ``draft`` (a whole draft: greeting, body, sign-off) says nothing beyond the
    sentences around an answer while ``email`` is not a thank-you (positive): see the module
    doc. Its greeting (a first paragraph of one line ending in a comma) and sign-off
    (a last paragraph whose first line ends in one) are not read."""
    if sentiment == "positive":
        return False
    paragraphs = [p.strip() for p in draft.strip().split("\n\n") if p.strip()]
    if paragraphs and "\n" not in paragraphs[0] and paragraphs[0].endswith(","):
        paragraphs = paragraphs[1:]
    if paragraphs and paragraphs[-1].splitlines()[0].rstrip().endswith(","):
        paragraphs = paragraphs[:-1]
    source = f"{email.subject}\n{email.body[:_SOURCE_CHARS]}"
    known = frozenset(_FILLER_WORD.findall(source.lower()))
    for sentence in sentences("\n".join(paragraphs)):
        words = frozenset(_FILLER_WORD.findall(sentence.lower()))
        if len(words) >= 3 and not any(
                len(words & filler) >= FILLER_COVERAGE * len(filler)
                and len(words - allowed - known) <= FILLER_EXTRA_WORDS
                for filler, allowed in _FILLERS):
            return False
    return True
