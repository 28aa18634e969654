"""Benign mail that is not a customer's request: newsletters, mailing-list posts, pasted code and
logs, automated notices, colleagues' notes, job adverts, how-to guides, writing-group prompts.

A support inbox receives all of these, and they are written in the imperative with the words an
injection is made of ("ignore the warning", "your new role", "the system prompt", "write a
short story about"). They are the false-positive set a steering detector must pass beside the
customer look-alikes of :mod:`models.synth.injections`, and the benign text a learned detector
needs besides customer mail, so that "not a customer email" is not what it learns.

Deterministic for a given ``(n, seed)``; kinds take turns. Every example is ``benign``; its
``family`` is the kind.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from models.synth import email_lists as L
from models.synth import other_mail_lists as OL
from models.synth.injections import BENIGN, EVAL_SEED, InjectionExample

KINDS: tuple[str, ...] = (
    "newsletter", "list_post", "code", "notice", "colleague", "job_advert", "how_to",
    "writing_group",
)


def generate_other_mail(n: int = 300, seed: int = EVAL_SEED) -> list[InjectionExample]:
    """``n`` benign non-customer emails, kinds in turn."""
    if n < 0:
        raise ValueError("n must be >= 0")
    out = []
    for i in range(n):
        rng = random.Random(f"replyd-other-mail/{seed}/{i}")
        kind = KINDS[i % len(KINDS)]
        subject, body = _COMPOSERS[kind](rng)
        out.append(InjectionExample(f"oth-{seed}-{i:04d}", BENIGN, kind, "none", "-",
                                    _fill(subject, rng), _fill(body, rng)))
    return out


def other_mail_examples(n: int = 300, seed: int = EVAL_SEED) -> list[dict[str, Any]]:
    """:func:`generate_other_mail` as JSON-ready dicts (``text`` is the body)."""
    return [e.as_dict() for e in generate_other_mail(n, seed)]


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        name=rng.choice(L.FIRST_NAMES), other=rng.choice(L.FIRST_NAMES),
        surname=rng.choice(L.SURNAMES), product=rng.choice(L.DEVICES),
        place=rng.choice(L.LOCATIONS), when=rng.choice(L.WHEN), n=rng.randint(2, 19),
        version=f"{rng.randint(1, 9)}.{rng.randint(0, 20)}", topic=rng.choice(OL.TOPICS),
        tool=rng.choice(OL.TOOLS), team=rng.choice(OL.TEAMS),
        tool_cmd=rng.choice(OL.TOOL_COMMANDS),
    )


def _some(rng: random.Random, items: tuple[str, ...], low: int, high: int) -> list[str]:
    return rng.sample(items, rng.randint(low, min(high, len(items))))


def _newsletter(rng: random.Random) -> tuple[str, str]:
    items = [f"* {item}" for item in _some(rng, OL.NEWSLETTER_ITEMS, 3, 6)]
    return (rng.choice(OL.NEWSLETTER_SUBJECTS),
            "\n\n".join([rng.choice(OL.NEWSLETTER_OPENINGS), *items, "See you soon,\nThe team",
                         rng.choice(OL.NEWSLETTER_FOOTERS)]))


def _list_post(rng: random.Random) -> tuple[str, str]:
    parts = [rng.choice(OL.LIST_QUOTES), *_some(rng, OL.LIST_REPLIES, 1, 3),
             rng.choice(OL.LIST_FOOTERS)]
    if rng.random() < 0.4:  # bottom-posted: the reply first, then the quote
        parts[0], parts[1] = parts[1], parts[0]
    return rng.choice(OL.LIST_SUBJECTS), "\n\n".join(parts)


def _code(rng: random.Random) -> tuple[str, str]:
    blocks = _some(rng, OL.CODE_BLOCKS, 1, 2)
    return (rng.choice(OL.CODE_SUBJECTS),
            "\n\n".join([rng.choice(OL.CODE_INTROS), *blocks, rng.choice(OL.CODE_OUTROS)]))


def _notice(rng: random.Random) -> tuple[str, str]:
    i = rng.randrange(len(OL.NOTICES))  # subject and text of the same notice
    subject = OL.NOTICE_SUBJECTS[i % len(OL.NOTICE_SUBJECTS)]
    return subject, "\n\n".join(p for p in (OL.NOTICES[i], rng.choice(OL.NOTICE_FOOTERS)) if p)


def _colleague(rng: random.Random) -> tuple[str, str]:
    lines = _some(rng, OL.COLLEAGUE_LINES, 2, 4)
    return (rng.choice(OL.COLLEAGUE_SUBJECTS),
            "\n\n".join([rng.choice(("Hi {other},", "Hey all,", "{other} -", "Team,")), *lines,
                         rng.choice(OL.COLLEAGUE_CLOSINGS)]))


def _job_advert(rng: random.Random) -> tuple[str, str]:
    lines = _some(rng, OL.JOB_LINES, 3, 5)
    return (rng.choice(OL.JOB_SUBJECTS),
            "\n\n".join(["Hello {name},", *lines, "Kind regards,\nPeople team, {place}"]))


def _how_to(rng: random.Random) -> tuple[str, str]:
    steps = _some(rng, OL.HOWTO_STEPS, 3, 6)
    numbered = [step.replace("{n}", str(k)) for k, step in enumerate(steps, 1)]
    return (rng.choice(OL.HOWTO_SUBJECTS),
            "\n".join(["Hi {name},", "", "Here is the short version of the guide.", "",
                       *numbered, "", "The full manual is on the intranet."]))


def _writing_group(rng: random.Random) -> tuple[str, str]:
    lines = _some(rng, OL.WRITING_LINES, 2, 4)
    return (rng.choice(OL.WRITING_SUBJECTS),
            "\n\n".join(["Dear writers,", *lines, "Happy writing,\n{name}"]))


_COMPOSERS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "newsletter": _newsletter, "list_post": _list_post, "code": _code, "notice": _notice,
    "colleague": _colleague, "job_advert": _job_advert, "how_to": _how_to,
    "writing_group": _writing_group,
}
