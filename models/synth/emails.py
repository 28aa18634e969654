"""Synthetic customer-support emails, labelled by construction.

Every email is composed from word lists (:mod:`models.synth.email_lists`) so its labels are known
exactly: the sentiment it was written with, and the entities (customer name, products,
locations) as the exact substrings that appear in the body. The training sets for the sentiment,
entity, reply and persona adapters are built from it.

The name, product and location lists are each split into disjoint train and eval parts by a
stable hash of the item, so an eval example never contains an entity seen in training and an
adapter cannot pass eval by memorising strings. Moods, issues and phrase templates are shared by
both splits: they are the task, not the thing to memorise.

Generation is deterministic for a given ``(n, seed, split)`` and independent of the global
``random`` state; email ``i`` depends only on ``(seed, split, i)``, so a shorter dataset is a
prefix of a longer one.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from models.synth import email_lists as L
from models.synth import paraphrase_lists as P
from models.synth import reply_lists as R
from models.synth import short as synth_short
from models.synth import teacher_mail
from models.synth.splits import Split, vocabulary
from models.synth.typos import inject_typos
from models.vocabulary import PERSONAS, SENTIMENTS, Sentiment

SUPPORT_ADDRESS = "support@replyd.example"
SIGN_OFF = "The replyd support team"
# About 90 SmolLM2 tokens (~4 characters each): the pipeline's reply bound is 96 tokens.
REPLY_MAX_CHARS = 360
MORE_CASES_SHARE = 0.3  # with more_cases: negative and neutral emails raising an added case
PARAPHRASE_SHARE = 0.35  # with paraphrased: emails telling their problem in other words

_DOMAINS = ("example.com", "example.org", "example.net")  # RFC 2606: never a real mailbox
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Letters NFKD does not decompose to ASCII.
_TRANSLIT = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "ß": "ss", "ł": "l", "đ": "d"})


@dataclass(frozen=True, slots=True)
class SyntheticEmail:
    """One generated customer email and its ground-truth labels.

    ``message_id`` is unique per (seed, split, index); ``from_addr`` is derived from the
    customer's name on an RFC 2606 domain even when the body is unsigned. ``entities`` has exactly
    the keys "name", "product" and "location", each listing the exact substrings of ``body`` in
    order of first appearance. ``issue`` is one of the keys of ``email_lists.ISSUES``;
    ``request`` says what exactly the email asks, where replies to one issue differ (a key of
    ``reply_lists.REPLY_ANSWERS``: "double_charge", "timer", ...), and is the issue otherwise.
    """

    message_id: str
    from_addr: str
    to_addr: str
    subject: str
    body: str
    sentiment: Sentiment
    entities: dict[str, list[str]]
    issue: str
    request: str = ""

    def as_incoming(self, received_at: datetime) -> dict[str, Any]:
        """The email as a JSON-ready incoming-message record, as the daemon consumes it."""
        return {
            "message_id": self.message_id,
            "from": self.from_addr,
            "to": self.to_addr,
            "subject": self.subject,
            "body": self.body,
            "received_at": received_at.isoformat(),
            "thread_id": None,
            "headers": {},
        }


# --- composing one email -----------------------------------------------------------------------


def generate_emails(n: int, seed: int = 0, split: Split = "train", more_cases: bool = False,
                    paraphrased: bool = False) -> list[SyntheticEmail]:
    """``n`` labelled emails; the same arguments always give the same list.

    Sentiments come in shuffled blocks of three, so any prefix is balanced to within one. With
    ``more_cases``, :data:`MORE_CASES_SHARE` of the negative and neutral emails raise one of
    ``email_lists.MORE_ISSUES`` instead (a missing part, a refund, a warranty, an address, a
    login), drawn from a stream of their own: every other email is the same, byte for byte.
    With ``paraphrased``, :data:`PARAPHRASE_SHARE` of the emails state their problem in other
    words (:mod:`models.synth.paraphrase_lists`), half of those under a subject that names no
    case, from a stream of their own too.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    vocab = vocabulary(split)
    return [_compose(i, seed, split, vocab, more_cases, paraphrased) for i in range(n)]


def _sentiment_for(i: int, seed: int, split: str) -> Sentiment:
    block = list(SENTIMENTS)
    random.Random(f"replyd-synth/{seed}/{split}/block/{i // 3}").shuffle(block)
    return block[i % 3]


def _compose(i: int, seed: int, split: str, vocab: dict[str, tuple[str, ...]],
             more_cases: bool, paraphrased: bool = False) -> SyntheticEmail:
    rng = random.Random(f"replyd-synth/{seed}/{split}/{i}")
    sentiment = _sentiment_for(i, seed, split)
    issue = rng.choice([name for name, by_sentiment in L.CORE.items()
                        if sentiment in by_sentiment and name not in L.MORE_ISSUES])
    options = [name for name in L.MORE_ISSUES if sentiment in L.CORE[name]] if more_cases else []
    more = random.Random(f"replyd-synth-more/{seed}/{split}/{i}") if options else None
    if more is not None and more.random() < MORE_CASES_SHARE:
        issue = more.choice(options)
    kind, generic = L.ISSUES[issue]

    first, last = rng.choice(vocab["first_name"]), rng.choice(vocab["surname"])
    name = f"{first} {last}"
    show_name = rng.random() < 0.75
    pool = vocab["device"] + vocab["plan"] if kind == "any" else vocab[kind]
    products = _pick_products(rng, pool, vocab["device"])
    locations = [rng.choice(vocab["location"])] if rng.random() < 0.5 else []
    long = rng.random() < 0.5
    angry = sentiment == "negative" and rng.random() < 0.5
    quoted = rng.random() < 0.25

    if products:
        item = f"{rng.choice(('the', 'my'))} {products[0]}"
    else:
        item = rng.choice(generic)
    template = rng.choice(L.CORE[issue][sentiment])
    request = R.CORE_REQUESTS.get(template, issue)
    other = random.Random(f"replyd-synth-para/{seed}/{split}/{i}") if paraphrased else None
    told = other is not None and other.random() < PARAPHRASE_SHARE
    if other is not None and told:
        template = other.choice(P.PARAPHRASES[issue][sentiment])
        request = P.PARAPHRASE_REQUESTS.get(template, issue)
    core = template.format(item=item, Item=item[0].upper() + item[1:], when=rng.choice(L.WHEN))

    opening: list[str] = []
    if quoted and rng.random() < 0.7:
        opening.append(rng.choice(L.FOLLOW_UPS[sentiment]))
    if show_name and rng.random() < 0.35:
        opening.append(rng.choice(L.INTROS).format(name=name))
    if long:
        mood = rng.choice(L.MOODS[sentiment])
        opening.append(rng.choice(L.MOOD_SENTENCES[sentiment]).format(mood=mood))
    opening.append(core)
    if long:
        opening.extend(rng.sample(L.DETAILS[issue], k=rng.randint(1, 2)))

    context: list[str] = []
    if len(products) > 1:
        extras = _join([f"the {p}" for p in products[1:]])
        context.append(rng.choice(L.EXTRAS).format(extras=extras))
    location_in_signature = bool(locations) and show_name and rng.random() < 0.3
    if locations and not location_in_signature:
        context.append(rng.choice(_location_sentences(issue, sentiment)).format(
            location=locations[0]))
    if angry:
        context.extend(rng.sample(L.ANGRY_LINES, k=rng.randint(1, 2)))
    elif sentiment == "negative" and long:
        context.append(rng.choice(L.POLITE_LINES))
    if long or rng.random() < 0.5:
        context.append(rng.choice(L.CLOSERS[sentiment]))

    paragraphs = [" ".join(opening), " ".join(context)] if long else [" ".join(opening + context)]
    if rng.random() < (0.5 if angry else 0.85):
        paragraphs.insert(0, rng.choice(L.GREETINGS))
    if show_name:
        signature = rng.choice(L.SIGNATURES_NAMED).format(name=name)
        paragraphs.append(signature + (f"\n{locations[0]}" if location_in_signature else ""))
    elif rng.random() < 0.6:
        paragraphs.append(rng.choice(L.SIGNATURES_ANONYMOUS))
    if quoted:
        paragraphs.append(_quote(rng))
    body = "\n\n".join(p for p in paragraphs if p)

    shown = ([name] if show_name else []) + products + locations
    if rng.random() < (0.5 if angry else 0.3):
        body = inject_typos(body, shown, rng, k=rng.randint(1, 3))

    subject = rng.choice(L.SUBJECTS[issue])
    if other is not None and told and other.random() < 0.5:
        subject = other.choice(P.VAGUE_SUBJECTS)
    return SyntheticEmail(
        message_id=f"<synth-{seed}-{split}-{i}@replyd.example>",
        from_addr=_address(first, last, rng),
        to_addr=SUPPORT_ADDRESS,
        subject=f"Re: {subject}" if quoted else subject,
        body=body,
        sentiment=sentiment,
        entities={
            "name": _in_body_order(body, [name] if show_name else []),
            "product": _in_body_order(body, products),
            "location": _in_body_order(body, locations),
        },
        issue=issue,
        request=request,
    )


def _pick_products(rng: random.Random, pool: Sequence[str], devices: Sequence[str]) -> list[str]:
    # Extras are always devices: a plan "also ordered at the same time" reads wrong.
    count = rng.choices((0, 1, 2, 3), weights=(2, 5, 2, 1))[0]
    if count == 0 or not pool:
        return []
    main = rng.choice(pool)
    return [main, *rng.sample([d for d in devices if d != main], k=count - 1)]


def _location_sentences(issue: str, sentiment: str) -> tuple[str, ...]:
    options = L.LOCATION_SENTENCES["general"]
    if L.ISSUES[issue][0] == "device" and sentiment != "positive" and issue != "warranty":
        options += L.LOCATION_SENTENCES["delivery"]
    if sentiment == "positive":
        options += L.LOCATION_SENTENCES["positive"]
    return options


def _quote(rng: random.Random) -> str:
    quoted = "\n".join(f"> {line}".rstrip() for line in rng.choice(L.QUOTED).split("\n"))
    if rng.random() < 0.3:
        return quoted
    day = date(2024, 1, 1) + timedelta(days=rng.randrange(700))
    stamp = (f"{_DAYS[day.weekday()]}, {day.day} {_MONTHS[day.month - 1]} {day.year} "
             f"at {rng.randint(8, 18):02d}:{rng.randrange(60):02d}")
    return f"On {stamp}, replyd support <{SUPPORT_ADDRESS}> wrote:\n{quoted}"


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _in_body_order(body: str, values: Sequence[str]) -> list[str]:
    # body.index raises for a value the body lost: a wrong label must fail loudly, not vanish.
    return sorted(set(values), key=body.index)


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    return re.sub(r"[^a-z0-9]", "", folded.encode("ascii", "ignore").decode().lower())


def _address(first: str, last: str, rng: random.Random) -> str:
    f, s = _slug(first), _slug(last)
    local = rng.choice((f"{f}.{s}", f"{f[0]}{s}", f"{f}_{s}", f"{f}{s}{rng.randint(1, 99)}",
                        f"{s}.{f}"))
    return f"{local}@{rng.choice(_DOMAINS)}"


# --- reply drafts ------------------------------------------------------------------------------


def draft_reply(email: SyntheticEmail, persona: str | None = None) -> str:
    """A good reply draft to ``email``: plain, or rewritten in ``persona``'s voice.

    The plain draft greets the customer by first name when known, acknowledges what the email
    asks (its ``request``), apologises only for a negative email and thanks for a positive one,
    answers or says what happens next, asks for the order or account details when no product is
    named, names every product, promises nothing support cannot know (no order numbers, amounts,
    dates or links) and signs as the replyd support team. Openers, answers, closings and the
    order of the middle sentences vary, deterministically per ``message_id``.

    The persona rewrite is of that same plain draft, so the persona adapter learns to rewrite
    what the reply stage writes; it keeps every name, product and location verbatim.
    """
    if persona is None:
        return _plain_reply(email)
    _check_persona(persona)
    return _pirate_reply(email, _plain_reply(email))


def _pirate_reply(email: SyntheticEmail, plain: str) -> str:
    """``plain`` (greeting, paragraphs, sign-off block) in the pirate voice: its own greeting and
    sign-off, "Arr!" before the first paragraph, pirate words outside the facts."""
    blocks = plain.split("\n\n")
    paragraphs = blocks[1:-1]
    names = email.entities["name"]
    first_name = names[0].split()[0] if names else None
    keep = tuple(v for v in (first_name, *email.entities["product"],
                             *email.entities["location"]) if v)
    greeting = f"Ahoy {first_name}, matey!" if first_name else "Ahoy there, matey!"
    rewritten = [_shielded_sub(paragraph, keep, _piratise) for paragraph in paragraphs]
    rewritten[0] = f"Arr! {rewritten[0]}"
    return "\n\n".join([greeting, *rewritten, f"Fair winds to ye,\n{SIGN_OFF}"])


def _plain_reply(email: SyntheticEmail) -> str:
    # Its own stream (the v1 template that came before used "replyd-reply/"), so a change
    # elsewhere in the generator leaves the reply data byte-identical.
    rng = random.Random(f"replyd-reply-v2/{email.message_id}")
    names, products = email.entities["name"], email.entities["product"]
    locations = email.entities["location"]
    sentiment, issue = email.sentiment, email.issue
    greeting = (f"Hi {names[0].split()[0]}," if names
                else rng.choice(R.REPLY_GREETINGS_ANONYMOUS))
    # The first product named is the one the email is about; the rest are context.
    item = f"your {products[0]}" if products else rng.choice(R.REPLY_GENERIC[issue])

    ack = rng.choice(R.REPLY_ACKS[issue][sentiment]).format(item=item)
    comfort = None
    if sentiment == "negative":
        if any(line in email.body for line in L.FOLLOW_UPS["negative"]):
            comfort = rng.choice(R.REPLY_CHASED)
        elif rng.random() < 0.4:
            comfort = rng.choice(R.REPLY_EMPATHY)
    answer = rng.choice(R.REPLY_ANSWERS.get(email.request) or R.REPLY_ANSWERS[issue])
    ask = None
    if not products and issue in R.REPLY_ID_KIND:
        ask = rng.choice(R.REPLY_ID_ASKS[R.REPLY_ID_KIND[issue]])
    # Asking first reads as "we need this to start"; after, as "and to speed things up".
    ask_first = rng.random() < 0.5
    where = (rng.choice(R.REPLY_LOCATIONS).format(location=locations[0])
             if locations and issue == "late_delivery" else None)
    extras_phrase = _join([f"the {p}" for p in products[1:]]) if len(products) > 1 else None
    extras = rng.choice(R.REPLY_EXTRAS).format(extras=extras_phrase) if extras_phrase else None
    extras_first = rng.random() < 0.5  # right after the acknowledgement, or at the end
    closing = rng.choice(R.REPLY_CLOSINGS[sentiment])
    layout = rng.random()
    sign_off = f"{rng.choice(R.REPLY_SIGN_WORDS[sentiment])}\n{SIGN_OFF}"

    def render() -> str:
        opening = [ack, *([comfort] if comfort else [])]
        middle = [answer]
        if ask:
            middle.insert(0 if ask_first else 1, ask)
        if where:
            middle.append(where)
        if extras:
            middle.insert(0 if extras_first else len(middle), extras)
        ending = [closing] if closing else []
        if layout < 0.5:  # acknowledgement and answer together, closing on its own
            paragraphs = [" ".join(opening + middle), *ending]
        elif layout < 0.8:  # acknowledgement on its own
            paragraphs = [" ".join(opening), " ".join(middle + ending)]
        else:  # one paragraph
            paragraphs = [" ".join(opening + middle + ending)]
        return "\n\n".join([greeting, *paragraphs, sign_off])

    # A target longer than the pipeline's reply token bound teaches the model to be cut off:
    # drop the optional sentences, least useful first, until the reply fits.
    text = render()
    for drop in ("comfort", "closing", "where", "extras"):
        if len(text) <= REPLY_MAX_CHARS:
            break
        if drop == "comfort":
            comfort = None
        elif drop == "closing":
            closing = None
        elif drop == "where":
            where = None
        elif extras_phrase:  # the short form still names every product
            extras = R.REPLY_EXTRAS_SHORT.format(extras=extras_phrase)
        text = render()
    return text


_PIRATE_RE = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, R.PIRATE_WORDS), key=len, reverse=True)) + r")\b")


def _piratise(text: str) -> str:
    return _PIRATE_RE.sub(lambda m: R.PIRATE_WORDS[m.group()], text)


def _shielded_sub(text: str, keep: Sequence[str], rewrite: Callable[[str], str]) -> str:
    """Apply ``rewrite`` to the parts of ``text`` outside the ``keep`` strings."""
    if not keep:
        return rewrite(text)
    pattern = "(" + "|".join(sorted(map(re.escape, keep), key=len, reverse=True)) + ")"
    # re.split with a group alternates outside / kept pieces.
    pieces = re.split(pattern, text)
    return "".join(piece if i % 2 else rewrite(piece) for i, piece in enumerate(pieces))


# --- training sets -----------------------------------------------------------------------------


def sentiment_examples(n: int, seed: int = 0, split: Split = "train") -> list[dict[str, Any]]:
    """Sentiment classification rows ``{"text", "label"}``: emails and review snippets
    alternately (:mod:`models.synth.short`), so the adapter learns sentiment, not the email
    register. Both halves are balanced, so the whole is too."""
    emails = [{"text": e.body, "label": e.sentiment}
              for e in generate_emails((n + 1) // 2, seed, split)]
    reviews = synth_short.examples("sentiment", synth_short.generate_reviews(n // 2, seed, split))
    return _alternate(emails, reviews)


def entity_examples(n: int, seed: int = 0, split: Split = "train") -> list[dict[str, Any]]:
    """Entity extraction rows ``{"text", "entities": {"name", "product", "location"}}``: emails
    and social posts alternately. In an email ``name`` is the customer's; in a post, the people
    it names."""
    emails = [{"text": e.body, "entities": e.entities}
              for e in generate_emails((n + 1) // 2, seed, split)]
    posts = synth_short.examples("entities", synth_short.generate_posts(n // 2, seed, split))
    return _alternate(emails, posts)


def analysis_examples(n: int, seed: int = 0, split: Split = "train") -> list[dict[str, Any]]:
    """Joint analysis rows ``{"text", "label", "entities"}``: emails, review snippets and social
    posts in turn, each with both labels. Emails carry both by construction; a review names no
    person, product or place; a post's sentiment comes from its template and marks
    (:mod:`models.synth.post_sentiment`), and the posts that read either way are skipped."""
    emails = [{"text": e.body, "label": e.sentiment, "entities": e.entities}
              for e in generate_emails((n + 2) // 3, seed, split)]
    reviews = [{"text": r.text, "label": r.sentiment, "entities": r.entities}
               for r in synth_short.generate_reviews((n + 1) // 3, seed, split)]
    posts = [{"text": p.text, "label": p.sentiment, "entities": p.entities}
             for p in _labelled_posts(n // 3, seed, split)]
    return _alternate(emails, reviews, posts)[:n]


def topic_examples(n: int, seed: int = 0, split: Split = "train") -> list[dict[str, Any]]:
    """Request rows ``{"subject", "body", "label"}`` (a case of the fifteen, or "other"): ``n``
    emails of every case, a share told in other words, and the teacher's mail of ``split``
    (:func:`models.synth.teacher_mail.mixed`)."""
    return teacher_mail.mixed([{"subject": e.subject, "body": e.body, "label": e.issue} for e in
                               generate_emails(n, seed, split, more_cases=True,
                                               paraphrased=True)], split, seed)


def _labelled_posts(n: int, seed: int, split: Split) -> list[synth_short.ShortText]:
    """The first ``n`` generated posts that carry a sentiment (a prefix for a smaller ``n``)."""
    generated = max(n, 1)
    while True:
        posts = [p for p in synth_short.generate_posts(generated, seed, split) if p.sentiment]
        if len(posts) >= n:
            return posts[:n]
        generated *= 2


def _alternate(*lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """a[0], b[0], …, a[1], b[1], …: a prefix of the result is a result for a smaller n."""
    return [rows[i] for i in range(max(map(len, lists), default=0)) for rows in lists
            if i < len(rows)]


def reply_examples(n: int, seed: int = 0, split: Split = "train", more_cases: bool = False,
                   added: bool = False, paraphrased: bool = False) -> list[dict[str, Any]]:
    """Reply drafting rows: the body, its labels and a good plain reply draft; ``more_cases`` and
    ``paraphrased`` as in :func:`generate_emails`. ``added``: the ``n`` plain emails, then those
    ``more_cases`` puts in their place (about ``0.2 * n`` more rows, raising the added cases)."""
    emails = generate_emails(n, seed, split, more_cases=more_cases or added,
                             paraphrased=paraphrased)
    if added:
        plain = generate_emails(n, seed, split, paraphrased=paraphrased)
        emails = plain + [e for e, p in zip(emails, plain, strict=True) if e != p]
    return [{"text": e.body, "sentiment": e.sentiment, "entities": e.entities,
             "reply": draft_reply(e)} for e in emails]


def persona_examples(n: int, seed: int = 0, split: Split = "train",
                     persona: str = "pirate") -> list[dict[str, Any]]:
    """Persona rewrite rows: a plain reply (the ``reply`` of :func:`reply_examples`, what the
    reply stage is trained to write) and the same reply, facts intact, in ``persona``'s voice."""
    _check_persona(persona)
    return [{"text": _plain_reply(e), "persona": persona, "rewrite": draft_reply(e, persona)}
            for e in generate_emails(n, seed, split)]


def _check_persona(persona: str) -> None:
    if persona not in PERSONAS:
        raise ValueError(f"unknown persona {persona!r}; expected one of {PERSONAS}")
