"""Checks a reply draft must pass before it is worth showing to a support agent.

The reply model is small and fails in recognisable ways: it loops, echoes the prompt, writes
as the customer, offers condolences for a broken toothbrush, brushes the customer off
(``handlers.checks_tone``), promises a check in reply to praise (``handlers.checks_needless``),
invents order numbers and dates, or answers a parcel nobody sent (``handlers.checks_case``).
:func:`check_draft` names every such failure it finds, so the caller can swap the draft for a
grounded fallback or flag it for review.

Everything here is pure and runs in time linear in the draft and email length: a fixed set of
regular expressions without nested unbounded repetition, plus counting in dicts. The checker
never logs; callers get check names only, never text from the email or the draft.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise

from handlers.checks_answer import misread_answers
from handlers.checks_case import invented_case
from handlers.checks_claims import invented_commitments
from handlers.checks_needless import known_order_asks, needless_follow_ups, needless_questions
from handlers.checks_note import invented_notes
from handlers.checks_spelling import misspelt_facts
from handlers.checks_tone import brush_offs
from handlers.types import EmailText, Entities, Sentiment

REPETITION = "repetition"
PROMPT_ECHO = "prompt_echo"
CUSTOMER_VOICE = "customer_voice"
MISPLACED_CONDOLENCE = "misplaced_condolence"
BRUSH_OFF = "brush_off"  # a clause that dismisses the customer (handlers.checks_tone)
NEEDLESS_FOLLOW_UP = "needless_follow_up"  # a check promised on praise (checks_needless)
NEEDLESS_QUESTION = "needless_question"  # which product, of an email that names it
APOLOGY_MISSING = "apology_missing"
LENGTH = "length"
UNFINISHED = "unfinished"
INVENTED_FACTS = "invented_facts"
GREETING_NAME = "greeting_name"
MISSPELT_FACT = "misspelt_fact"
UNSIGNED = "unsigned"
# Persona rewrites only: a name or product of the draft that the rewrite dropped.
FACTS_LOST = "facts_lost"
CHECKS: tuple[str, ...] = (
    REPETITION, PROMPT_ECHO, CUSTOMER_VOICE, MISPLACED_CONDOLENCE, BRUSH_OFF, NEEDLESS_FOLLOW_UP,
    NEEDLESS_QUESTION, APOLOGY_MISSING, LENGTH, UNFINISHED, INVENTED_FACTS, GREETING_NAME,
    MISSPELT_FACT, UNSIGNED,
)

MIN_WORDS = 12
MAX_WORDS = 180
# Sentences of this many words or fewer ("Hi Dana,", "Best regards,") may legitimately repeat.
SHORT_SEGMENT_WORDS = 2
NGRAM = 4
NGRAM_REPEATS = 3
RUN_WORDS = 7  # a run of this many words said twice ("checking the audio's output with the ...")
# Near-duplicates: two sentences of at least NEAR_MIN_WORDS words sharing this share of their
# distinct words. "Thank you for your patience." / "Thank you for your order." share 0.67 and
# pass; "I'm sorry about your device." / "I'm so sorry about your device!" share 0.83 and fail.
# Pairs are compared among the first NEAR_MAX_SENTENCES sentences only, so the cost is bounded
# whatever the text.
NEAR_MIN_WORDS = 4
NEAR_SIMILARITY = 0.75
NEAR_MAX_SENTENCES = 40

HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam"})

# Curly quotes and dashes folded to ASCII so one pattern covers what the model and mail clients
# actually produce (a curly apostrophe as well as a straight one).
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                       "\u2013": "-", "\u2014": "-"})

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")
_NON_WORD = re.compile(r"[^\w\s]+")
_WORDS = re.compile(r"\w+")

# A line that is only a salutation ("Hi Dana,", "Hello there,", "Dear Ms Smith,").
_SALUTATION = r"^[ \t]*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b"
_GREETING = re.compile(_SALUTATION + r"[^.!?\n]{0,40}[,!]?[ \t]*$", re.IGNORECASE)
# A line that opens with one ("Hi, thank you for writing", "Hello Dana, we're sorry"): a
# salutation, at most three words of a name, then a comma or "!".
_GREETING_OPENING = re.compile(_SALUTATION + r"(?:[ \t]+[\w.'-]+){0,3}[ \t]*[,!]",
                               re.IGNORECASE)
GREETING_LINES = 4  # the first lines of a draft, where a second greeting shows a restart

# --- prompt echo ---------------------------------------------------------------------------------

# Our own delimiters, chat-template roles and special tokens, and the "[tag]" that
# handlers.prompting substitutes for tags smuggled into an email.
_ECHO_TAG = re.compile(
    r"<\s*/?\s*(?:email|system|user|assistant|reply|instructions?|context|input|output|draft)"
    r"\s*>|<\|[a-z_]{1,20}\|>|\[tag\]",
    re.IGNORECASE,
)
# The labels of the reply prompt (handlers.reply.messages) and of the other stages' prompts.
_ECHO_LABEL = re.compile(
    r"^[ \t]*(?:reply|customer(?: name)?|products?|sentiment|subject|json|entities|email|"
    r"rewrite|names?|locations?|system|user|assistant|human)[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
_ECHO_ROLE = re.compile(r"\b(?:assistant|user|system|human)\s*:", re.IGNORECASE)
_ECHO_QUOTE = re.compile(r"^[ \t]*>|^[ \t]*on\b[^\n]{0,200}\bwrote:[ \t]*$",
                         re.IGNORECASE | re.MULTILINE)

# --- customer voice ------------------------------------------------------------------------------

# Phrases a customer writes and a support agent does not. Each one is narrow on purpose:
# "I'm writing to" alone is also how agents open follow-ups, so it needs a customer's verb.
_CUSTOMER_PHRASES = re.compile(
    r"\bi(?:'m| am) writing (?:to (?:you )?)?(?:to )?(?:complain|ask|request|report|switch|cancel|"
    r"return|get|find out|inquire|enquire|dispute|change|query|chase|demand|let you know (?:that )?"
    r"(?:i|my))\b"
    # "I ordered a replacement for you" is an agent's sentence; "I ordered" alone is not.
    r"|\bi (?:just |recently |already )?(?:ordered|bought|purchased|paid)\b"
    r"(?![^.!?\n]{0,40}\bfor you\b)"
    r"|\bmy (?:order|parcel|package|delivery|refund|purchase|money|bank|card|subscription|"
    r"account|invoice|receipt|credit card)\b"
    r"|\bi (?:want|would like|'d like|need) (?:a|my) (?:refund|replacement|money back)\b"
    r"|\bi want my money\b"
    r"|\bi (?:want|would like|'d like|need) to (?:return|cancel|switch|send (?:it|this) back|"
    r"get a refund|complain)\b(?! you\b)"
    # An agent may not have received the customer's photos yet; only a customer misses "my" things.
    r"|\bi (?:still )?(?:haven't|have not|never) (?:received|got|gotten) (?:my|it|anything)\b"
    r"|\bi (?:still )?(?:haven't|have not|never) heard back from (?:you|your|anyone)\b"
    r"|\bi (?:was|have been|'ve been|got) (?:charged|billed|overcharged)\b"
    r"|\bi received (?:the wrong|a broken|a damaged|a faulty|my)\b"
    r"|\bnobody (?:has|have) (?:told|replied|answered|got back)\b"
    r"|\byour (?:customer service|customer support|support team|support) (?:is|was|has been)\b",
    re.IGNORECASE,
)
# The model denying the role it is given.
_ROLE_DENIAL = re.compile(
    r"\bi(?:'m| am) not (?:a |an |the )?(?:customer (?:service|support|care)|support|"
    r"(?:an? )?(?:agent|representative|employee))"
    r"|\bi(?:'m| am) (?:just |only )?(?:a|the) customer\b"
    r"|\bas a customer\b"
    r"|\bi (?:don't|do not) work (?:for|at|in)\b"
    r"|\bas an ai\b|\bi(?:'m| am) (?:just )?an ai\b",
    re.IGNORECASE,
)
_SELF_INTRO = (r"\b(?:i'm|i am|im|my name is|my name's|this is|it's|here is|here's)\s+"
               r"(?:{names})\b(?!')")

# --- condolence and apology ----------------------------------------------------------------------

_CONDOLENCE = re.compile(
    r"\bsorry for your loss\b|\bcondolence|\bpassed away\b|\b(?:my|our|deepest|heartfelt|"
    r"sincere|sincerest) sympath|\bsympathy for your loss\b|\brest in peace\b|\bbereave",
    re.IGNORECASE,
)
# A death in the email (not "my phone died": devices die every day in support mail).
_BEREAVEMENT = re.compile(
    r"\bpassed away\b|\bpassing of\b|\bfuneral\b|\bbereave|\bdeceased\b|\bdeath of\b|"
    r"\bwidow|\bin memory of\b|\bcondolence|\b(?:my|our|his|her|their) late\s+\w"
    r"|\b(?:husband|wife|father|mother|mum|mom|dad|son|daughter|partner|brother|sister|"
    r"grandmother|grandfather|grandma|grandpa|granny|friend|uncle|aunt|child|baby)\s+"
    r"(?:has |had )?(?:died|passed)\b",
    re.IGNORECASE,
)
_APOLOGY = re.compile(r"\b(?:sorry|apolog\w*|regret\w*)\b", re.IGNORECASE)

# --- ending --------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?][\"')\]]*$|[.!?]\s*[\U0001F300-\U0001FAFF\u2600-\u27BF]+$")
_SIGN_OFF = re.compile(
    r"^(?:(?:best|kind|kindest|warm|warmest|many|with (?:best|kind|warm)|all the)\s+)?"
    r"(?:regards|wishes|thanks|thank you|cheers|sincerely|best|take care|warmly|talk soon|"
    r"yours(?: sincerely| truly| faithfully)?)\s*[,.!]?$",
    re.IGNORECASE,
)
# A bare team signature ("The replyd support team") ends a draft without a sign-off word.
_TEAM_SIGNATURE = re.compile(
    r"^(?:the\s+)?[\w' &-]{0,40}?\b(?:support|service|customer care|help ?desk)(?:\s+team)?$",
    re.IGNORECASE,
)
SIGNATURE_MAX_WORDS = 8
PERSONA_SIGN_OFF_WORDS = 4

# --- invented facts ------------------------------------------------------------------------------

_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
# URLs, addresses, bare domains. The look-behinds make each pattern start only at the start of a
# run of its characters; without them a long run that does not match is rescanned from every
# position in it.
_LINK_PATTERN = (
    r"https?://[^\s<>()\"']+|\bwww\.[^\s<>()\"']+"
    r"|(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|(?<![\w.-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|co|uk|de|fr|info|biz|example)\b")
_LINKS = re.compile(_LINK_PATTERN, re.IGNORECASE)
_FACTS = re.compile(
    _LINK_PATTERN
    + r"|\+?\d(?:[ ().-]{0,2}\d){6,}"  # phone numbers: seven digits or more, any separators
    r"|\d{4,}"  # order, ticket and tracking numbers, years
    r"|[$€£¥]\s?\d[\d,.]*|(?<![\d,.])\d[\d,.]*\s?(?:usd|eur|gbp|dollars?|euros?|pounds?|bucks)\b"
    r"|\b\d+(?:[.,]\d+)?\s?%"
    r"|\b\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?\b"
    rf"|\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b"
    r"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow)\b"
    r"|\b\d+(?:\s?(?:-|to)\s?\d+)?\s+(?:business\s+|working\s+)?(?:days?|hours?|weeks?)\b"
    # Any other number of two or three digits: a count, a size, a model or page number ("the
    # 120-item order" where the email said 12 licences). Digits inside a word ("20K", "S3")
    # are part of a name, not a number.
    r"|\b\d{2,3}\b",
    re.IGNORECASE,
)
_DIGIT_RUNS = re.compile(r"\d+")
# An amount of money, and a percentage: "17%" in the email grounds no "$17" in the draft.
_MONEY = re.compile(r"^[$€£¥]|(?:usd|eur|gbp|dollars?|euros?|pounds?|bucks)$", re.IGNORECASE)
_PERCENT = re.compile(r"\b\d+(?:[.,]\d+)?\s?%")
# A capitalised word right after a lower-case letter or a comma and one space: mid-sentence.
_MID_SENTENCE_CAPITAL = re.compile(r"(?<=[a-z,;:] )([A-Z][\w'-]+)")
_ALWAYS_CAPITAL = frozenset({"I", "I'm", "I've", "I'll", "I'd", "OK"})
# The host of a URL ("https://user@host:443/path"), an address ("name@host") or a bare domain.
_HOST = re.compile(r"(?:[a-z][a-z0-9+.-]*://)?(?:[^@/?#\s]*@)?([^/?#:@\s]+)", re.IGNORECASE)


def check_draft(body: str, email: EmailText, sentiment: Sentiment, entities: Entities, *,
                allowed_domains: Iterable[str] = (), company: str = "") -> tuple[str, ...]:
    """The names of the checks ``body`` fails, in :data:`CHECKS` order; empty means usable.

    ``email`` is what the customer wrote (facts in the draft must come from it), ``sentiment``
    and ``entities`` what the analysis stage found in it. ``allowed_domains`` are the company's
    own domains: links and addresses on them (or their subdomains) are not invented facts;
    ``company`` is the company's own name, which a draft may name ("the Acme team") without
    the email doing so.
    """
    draft = body.translate(_FOLD)
    source = f"{email.subject}\n{email.body}".translate(_FOLD)
    lines = [line.strip() for line in draft.splitlines() if line.strip()]
    failed = {
        REPETITION: has_repetition(draft),
        PROMPT_ECHO: echoes_prompt(draft),
        CUSTOMER_VOICE: speaks_as_customer(draft, lines, entities.name),
        MISPLACED_CONDOLENCE: bool(_CONDOLENCE.search(draft)) and not _BEREAVEMENT.search(source),
        BRUSH_OFF: bool(brush_offs(draft)),
        NEEDLESS_FOLLOW_UP: bool(needless_follow_ups(draft, source, sentiment)),
        NEEDLESS_QUESTION: bool(needless_questions(draft, entities)
                                or known_order_asks(draft, source)),
        APOLOGY_MISSING: sentiment == "negative" and not _APOLOGY.search(draft),
        LENGTH: not MIN_WORDS <= len(draft.split()) <= MAX_WORDS,
        UNFINISHED: is_unfinished(lines),
        INVENTED_FACTS: bool(invented_facts(draft, source, allowed_domains=allowed_domains)
                             or invented_names(draft, f"{source}\n{company}")
                             or invented_commitments(draft, source)
                             # Links and addresses are invented_facts' ("billing@...").
                             or invented_case(_FACTS.sub(" ", draft), source)
                             or misread_answers(draft, source)
                             or invented_notes(draft, source)),
        # Only a name there is a way to greet by ("J Whitfield" has none: "Hello," is right).
        GREETING_NAME: any(map(address_name, entities.name))
                       and not greets_by_name(lines, entities.name),
        MISSPELT_FACT: bool(misspelt_facts(draft, entities)),
        # The team's signature closes every draft support sends ("The replyd support team").
        UNSIGNED: not lines or not _TEAM_SIGNATURE.match(lines[-1]),
    }
    return tuple(name for name in CHECKS if failed[name])


def check_rewrite(rewrite: str, draft: str, email: EmailText, sentiment: Sentiment,
                  entities: Entities, *, allowed_domains: Iterable[str] = (),
                  company: str = "") -> tuple[str, ...]:
    """The checks a persona rewrite of ``draft`` fails: every check of :func:`check_draft`
    (facts may come from the email or the draft it rewrites), plus :data:`FACTS_LOST` when a
    name or product the draft carried is missing from the rewrite."""
    grounded = EmailText(message_id=email.message_id, subject=email.subject,
                         body=f"{email.body}\n{draft}")
    failed = check_draft(rewrite, grounded, sentiment, entities, allowed_domains=allowed_domains,
                         company=company)
    return failed + ((FACTS_LOST,) if lost_facts(rewrite, draft, entities) else ())


def lost_facts(rewrite: str, draft: str, entities: Entities) -> list[str]:
    """Names (as the draft addresses them) and products in ``draft`` but not in ``rewrite``."""
    before, after = draft.translate(_FOLD).casefold(), rewrite.translate(_FOLD).casefold()
    facts = {form for form in _name_forms(entities.name) if " " not in form}
    facts |= {" ".join(product.split()).casefold() for product in entities.product}
    return sorted(fact for fact in facts if fact and fact in before and fact not in after)


def address_name(full_name: str) -> str | None:
    """How to address a customer: the first name, or "Dr Okafor" for a titled name; None for
    an initial ("T. Haverford": no one is greeted "Hi T.")."""
    parts = full_name.split()
    if not parts:
        return None
    if parts[0].rstrip(".").casefold() in HONORIFICS:
        return f"{parts[0]} {parts[-1]}" if len(parts) > 1 else None
    return None if len(parts[0].rstrip(".")) < 2 else parts[0]


def has_repetition(draft: str) -> bool:
    """A sentence or line said twice, nearly twice ("I'm sorry about your device." then "I'm so
    sorry about your device!"), a second greeting in the opening lines ("Hello there," then "Hi,
    thank you..."), one word 4-gram three times (a generation loop), a run of 7 words twice
    (a clause restated in another sentence), or a word twice in a row ("sorry that that")."""
    opening = [line for line in draft.splitlines() if line.strip()][:GREETING_LINES]
    greetings = [line for line in opening
                 if _GREETING.match(line) or _GREETING_OPENING.match(line)]
    if len(greetings) > 1:
        return True
    seen: set[str] = set()
    near: list[frozenset[str]] = []
    for line in draft.splitlines():
        said = line.casefold().split()  # "that that", not "about that. That"
        if any(a.isalpha() and a == b.rstrip(".,;:!?") for a, b in pairwise(said)):
            return True
        for sentence in _SENTENCE_SPLIT.split(line):
            words = _NON_WORD.sub(" ", sentence.casefold()).split()
            if len(words) <= SHORT_SEGMENT_WORDS:
                continue
            key = " ".join(words)
            if key in seen:
                return True
            seen.add(key)
            if len(words) >= NEAR_MIN_WORDS and len(near) < NEAR_MAX_SENTENCES:
                bag = frozenset(words)
                if any(_jaccard(bag, other) >= NEAR_SIMILARITY for other in near):
                    return True
                near.append(bag)
    words = _WORDS.findall(draft.casefold())
    grams = Counter(tuple(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1))
    if any(count >= NGRAM_REPEATS for count in grams.values()):
        return True
    runs = [tuple(words[i : i + RUN_WORDS]) for i in range(len(words) - RUN_WORDS + 1)]
    return len(set(runs)) < len(runs)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b)


def echoes_prompt(draft: str) -> bool:
    """Delimiter tags, prompt labels, chat roles or quoted lines copied into the draft."""
    return any(p.search(draft) for p in (_ECHO_TAG, _ECHO_LABEL, _ECHO_ROLE, _ECHO_QUOTE))


def speaks_as_customer(draft: str, lines: Sequence[str], names: Iterable[str]) -> bool:
    """The draft writes as the customer (their name, their complaint) or denies being support."""
    if _CUSTOMER_PHRASES.search(draft) or _ROLE_DENIAL.search(draft):
        return True
    forms = _name_forms(names)
    if not forms:
        return False
    alternatives = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
    if re.search(_SELF_INTRO.format(names=alternatives), draft.casefold()):
        return True
    # The customer's signature: a closing line that is just their name. The first line is left
    # out, where "Dana," is a greeting.
    for line in lines[1:][-3:]:
        if line.strip(" \t-,.!").casefold() in forms:
            return True
    return False


def is_unfinished(lines: Sequence[str]) -> bool:
    """The draft stops mid-sentence: its last line (or the last line before a sign-off block)
    does not end a sentence."""
    if not lines:
        return True
    if _SENTENCE_END.search(lines[-1]):
        return False
    body_end = None
    signer_ok = len(lines[-1].split()) <= SIGNATURE_MAX_WORDS
    if len(lines) >= 2 and signer_ok and (_SIGN_OFF.match(lines[-2]) or _persona_sign_off(lines)):
        body_end = len(lines) - 2  # "Best regards," / "The support team"
    elif _SIGN_OFF.match(lines[-1]) and not lines[-1].endswith(","):
        body_end = len(lines) - 1  # "Thanks" alone
    elif signer_ok and _TEAM_SIGNATURE.match(lines[-1]):
        body_end = len(lines) - 1  # "The replyd support team" alone
    if body_end is None:
        return True
    # The text above the sign-off must end a sentence too: a sign-off after a cut sentence is
    # still a cut draft.
    return body_end > 0 and not _SENTENCE_END.search(lines[body_end - 1])


def _persona_sign_off(lines: Sequence[str]) -> bool:
    """A persona's own sign-off word ("Fair winds to ye,"): a short line ending in a comma
    above the team signature."""
    return (lines[-2].endswith(",") and len(lines[-2].split()) <= PERSONA_SIGN_OFF_WORDS
            and bool(_TEAM_SIGNATURE.match(lines[-1])))


def invented_facts(draft: str, source: str, *,
                   allowed_domains: Iterable[str] = ()) -> list[str]:
    """URLs, addresses, phone/order numbers, amounts and dates in ``draft`` but not in
    ``source``. Numbers compare by their digits, so "#48213" is grounded by "order 48213",
    except that a percentage grounds no amount of money ("17%" does not ground "$17"); the
    rest (URLs, addresses, weekdays) by the same pattern's matches in ``source``.

    A URL, bare domain or email address whose host is one of ``allowed_domains`` or a
    subdomain of one ("help.example-shop.com" for "example-shop.com") is never invented, path
    and all. Domains are matched case-insensitively; an entry without a dot ("com") is ignored,
    since it would allow every host under it."""
    allowed = _allowed(allowed_domains)
    # Sets, not substring searches of the source per match: the cost stays linear.
    source_digits = set(_DIGIT_RUNS.findall(source))
    money_digits: set[str] | None = None  # the source's digits outside percentages, if needed
    source_facts = {m.group(0).casefold() for m in _FACTS.finditer(source)}
    found = []
    for match in _FACTS.finditer(draft):
        text = match.group(0)
        if allowed and "." in text and _on_allowed_host(text, allowed):
            continue
        digits = _DIGIT_RUNS.findall(text)
        known = source_digits
        if digits and _MONEY.search(text):
            if money_digits is None:
                money_digits = set(_DIGIT_RUNS.findall(_PERCENT.sub(" ", source)))
            known = money_digits
        grounded = (all(run in known for run in digits) if digits
                    else text.casefold() in source_facts)
        if not grounded:
            found.append(text)
    return found


def links(text: str, *, allowed_domains: Iterable[str] = ()) -> list[str]:
    """The URLs, bare domains and email addresses in ``text``, in order, except those on one of
    ``allowed_domains`` or under one (see :func:`invented_facts`)."""
    allowed = _allowed(allowed_domains)
    return [match.group(0) for match in _LINKS.finditer(text.translate(_FOLD))
            if not (allowed and _on_allowed_host(match.group(0), allowed))]


def invented_names(draft: str, source: str) -> list[str]:
    """Capitalised words in mid-sentence (after a lower-case word or a comma) that ``source``
    never contains: a partner, brand or place the model made up ("CareLovely", "Reclaimx"),
    or a name it garbled. Sentence starts are skipped, since any word is capitalised there."""
    text = source.casefold()
    found = []
    # Links, addresses and numbers are invented_facts' to judge ("BILLING@Mail.Example.com").
    for match in _MID_SENTENCE_CAPITAL.finditer(_FACTS.sub(" ", draft)):
        word = match.group(1)
        word = word.removesuffix("'s").strip("'-")  # "CareShield's" is CareShield
        if word not in _ALWAYS_CAPITAL and word.casefold() not in text:
            found.append(word)
    return found


def _allowed(domains: Iterable[str]) -> frozenset[str]:
    if isinstance(domains, str):  # one domain given bare, not a tuple of its letters
        domains = (domains,)
    cleaned = (d.strip().casefold().removeprefix("*.").strip(".") for d in domains)
    return frozenset(d for d in cleaned if "." in d)


def _on_allowed_host(fact: str, allowed: frozenset[str]) -> bool:
    """Whether a URL, address or domain names a host in ``allowed`` or under one. Each test is
    one endswith per allowed domain, whatever the host's length: linear in the draft."""
    found = _HOST.match(fact)
    if found is None:
        return False
    host = found.group(1).casefold().rstrip(".,;:!?")
    return any(host == domain or host.endswith("." + domain) for domain in allowed)


def greets_by_name(lines: Sequence[str], names: Iterable[str]) -> bool:
    """The first line of the draft uses one of the customer's names (first name or title)."""
    if not lines:
        return False
    first = lines[0].casefold()
    for full in names:
        form = address_name(full)
        if form and re.search(rf"\b{re.escape(form.split()[-1].casefold())}\b", first):
            return True
    return False


def _name_forms(names: Iterable[str]) -> set[str]:
    forms: set[str] = set()
    for full in names:
        full = " ".join(full.split())
        if not full:
            continue
        forms.add(full.casefold())
        form = address_name(full)
        if form:
            forms.add(form.casefold())
    return forms
