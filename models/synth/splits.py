"""Train / eval split of the generators' vocabulary: a stable hash puts each list item on one side,
so an eval example never contains a name, product or place seen in training."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal, get_args

from models.synth import email_lists as L

Split = Literal["train", "eval"]
EVAL_MODULUS = 5  # one item in five, by hash, goes to eval


def check_split(split: str) -> None:
    if split not in get_args(Split):
        raise ValueError(f"split must be 'train' or 'eval', got {split!r}")


def is_eval_item(item: str) -> bool:
    """Whether a list item belongs to the eval split (a stable hash, not Python's salted one)."""
    digest = hashlib.sha256(item.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % EVAL_MODULUS == 0


def split_items(items: Sequence[str], split: Split) -> tuple[str, ...]:
    """The part of ``items`` that belongs to ``split``, in list order."""
    check_split(split)
    return tuple(item for item in items if is_eval_item(item) == (split == "eval"))


def vocabulary(split: Split) -> dict[str, tuple[str, ...]]:
    """The entity lists of one split: first_name, surname, device, plan and location."""
    lists = {"first_name": L.FIRST_NAMES, "surname": L.SURNAMES, "device": L.DEVICES,
             "plan": L.PLANS, "location": L.LOCATIONS}
    return {key: split_items(items, split) for key, items in lists.items()}
