"""Typing slips in synthetic emails: a few lowercase words misspelt, never an entity or a
quoted line."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from models.synth import email_lists as L


def inject_typos(body: str, protected: Sequence[str], rng: random.Random, k: int) -> str:
    """Misspell up to ``k`` lowercase words outside entity strings and quoted lines."""
    shielded: list[tuple[int, int]] = []
    for value in protected:
        shielded += [(m.start(), m.end()) for m in re.finditer(re.escape(value), body)]
    # Quoted mail was written by support, not by this customer.
    for line in re.finditer(r"^(?:>|On ).*$", body, flags=re.MULTILINE):
        shielded.append((line.start(), line.end()))
    words = [m for m in re.finditer(r"\b[a-z]{4,}\b", body)
             if not any(s < m.end() and m.start() < e for s, e in shielded)]
    chosen = sorted(rng.sample(words, k=min(k, len(words))), key=lambda m: m.start(), reverse=True)
    for match in chosen:  # right to left, so earlier offsets stay valid
        body = body[:match.start()] + _misspell(match.group(), rng) + body[match.end():]
    return body


def _misspell(word: str, rng: random.Random) -> str:
    if word in L.MISSPELLINGS:
        return L.MISSPELLINGS[word]
    j = rng.randrange(1, len(word) - 1)
    slip = rng.randrange(3)
    if slip == 0:
        return word[:j] + word[j + 1] + word[j] + word[j + 2:]  # swapped neighbours
    if slip == 1:
        return word[:j] + word[j + 1:]  # dropped letter
    return word[:j] + word[j] + word[j:]  # doubled letter
