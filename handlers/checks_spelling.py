"""Names and products a draft spells wrong: a model that mangles the customer's name or
product writes a draft nobody can send. Pure and bounded: ``difflib`` over the draft's distinct
capitalised words against the few words of the analysis' names and products, and a linear
pass over the draft's words for each product.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from difflib import SequenceMatcher

from handlers.types import Entities

__all__ = ["MANGLED_SIMILARITY", "MISSPELT_MIN_CHARS", "MISSPELT_SIMILARITY", "mangled_products",
           "misspelt_facts", "spelling_fixes"]

# Near misses of a name or product word (see misspelt_facts): words of this many characters or
# more, this similar. "Juniberx"/"Juniper" 0.80, "Noer"/"Noor" 0.75 (four letters: one slip is
# a quarter of the word), "Thanks"/"Tanaka" 0.50.
MISSPELT_MIN_CHARS = 4
MISSPELT_SIMILARITY = 0.75
MANGLED_SIMILARITY = 0.6  # a product's later word after its brand ("bookcase" for "bookshelf")

_WORDS = re.compile(r"\w+")


def misspelt_facts(draft: str, entities: Entities) -> list[str]:
    """Capitalised words of ``draft`` that are near misses of a word of a name or product the
    analysis found ("Juniberx" for "Juniper", "Noer" for "Noor"): same first letter, length
    within two, ``difflib`` ratio ≥ MISSPELT_SIMILARITY, not equal. A model that mangles the
    customer's name or product writes a draft nobody can send."""
    return mangled_products(draft, entities.product) + list(spelling_fixes(draft, entities))


def spelling_fixes(draft: str, entities: Entities) -> dict[str, str]:
    """Each capitalised word of ``draft`` that is a near miss of a name or product word (see
    :func:`misspelt_facts`), with that word as the analysis spelt it: the closest one."""
    # Capitalised words only: a brand or a name ("Sprout"), not "kids'" or "massager", which
    # ordinary words ("Kind", "Messages") come close to.
    targets = {word.casefold(): word for value in (*entities.name, *entities.product)
               for word in _WORDS.findall(value)
               if len(word) >= MISSPELT_MIN_CHARS and word[0].isupper()}
    fixes: dict[str, str] = {}
    if not targets:
        return fixes
    for word in dict.fromkeys(_WORDS.findall(draft)):  # distinct, in order
        low = word.casefold()
        if len(word) < MISSPELT_MIN_CHARS or not word[0].isupper() or low in targets:
            continue
        best, best_ratio = None, MISSPELT_SIMILARITY
        for target, spelt in targets.items():
            if target[0] != low[0] or abs(len(target) - len(low)) > 2:
                continue
            ratio = SequenceMatcher(None, target, low).ratio()
            if ratio >= best_ratio:
                best, best_ratio = spelt, ratio
        if best is not None:
            fixes[word] = best
    return fixes


def mangled_products(draft: str, products: Iterable[str]) -> list[str]:
    """A product named by its brand word and then a near miss of its next words ("sonata
    bookcase speaker" for "Sonata bookshelf speakers"): after the brand word (any case), each
    following word is compared with the product's word at the same place. A word that is the
    same (or its plural) goes on; a different word ends the mention (a paraphrase: "Piccolo
    coffee maker"); a near miss (same first letter, ``difflib`` ratio ≥ MANGLED_SIMILARITY, not
    an inflection of the same stem: "printed" for "printer") is a misspelt product."""
    named = [parts for parts in ([word.casefold() for word in _WORDS.findall(product)]
                                 for product in dict.fromkeys(products))
             if len(parts) >= 2 and len(parts[0]) >= MISSPELT_MIN_CHARS]
    if not named:
        return []
    words = [word.casefold() for word in _WORDS.findall(draft)]
    brands = {parts[0] for parts in named}
    places: dict[str, list[int]] = {}  # brand word → where the draft says it (one pass)
    for at, word in enumerate(words):
        if word in brands:
            places.setdefault(word, []).append(at)
    found = []
    for parts in named:
        for at in places.get(parts[0], ()):
            if _mangled_mention(words[at + 1 : at + len(parts)], parts[1:]):
                found.append(" ".join(words[at : at + len(parts)]))
                break  # one mangled mention names the product
    return list(dict.fromkeys(found))


def _mangled_mention(following: list[str], expected_words: list[str]) -> bool:
    """Whether the words after a brand word reach a near miss of the product's word at the same
    place before they reach a different word."""
    for said, expected in zip(following, expected_words, strict=False):
        if said in (expected, f"{expected}s") or expected == f"{said}s":
            continue
        return _near_miss(said, expected)
    return False


@functools.lru_cache(maxsize=4096)
def _near_miss(said: str, expected: str) -> bool:
    """Same first letter, not an inflection of the same stem, ``difflib`` ratio at least
    MANGLED_SIMILARITY (a draft repeats its words: each pair is judged once)."""
    stem = len(expected) - 2
    return (len(said) >= MISSPELT_MIN_CHARS and len(expected) >= MISSPELT_MIN_CHARS
            and said[0] == expected[0] and said[:stem] != expected[:stem]
            and SequenceMatcher(None, said, expected).ratio() >= MANGLED_SIMILARITY)
