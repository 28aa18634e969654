"""The teacher's steering attempts and look-alikes: the file, its splits and the adapter's rows."""

from __future__ import annotations

import re
import zlib
from collections import Counter

import pytest

from models.synth.teacher_injections import (
    ATTACK,
    BENIGN,
    SPLITS,
    steering_examples,
    teacher_injections,
)


def test_the_file_holds_each_split_with_both_labels() -> None:
    counts = Counter((row["id"].split("-")[0], row["label"]) for row in teacher_injections())
    assert sum(counts.values()) == 1_580
    by_split = {split: Counter(r["label"] for r in teacher_injections(split)) for split in SPLITS}
    assert by_split["test"] == {ATTACK: 160, BENIGN: 160}
    assert by_split["probe"] == {ATTACK: 260, BENIGN: 310}
    assert by_split["train"][ATTACK] + by_split["dev"][ATTACK] == 370
    assert by_split["train"][BENIGN] + by_split["dev"][BENIGN] == 320
    for split in ("train", "dev"):  # one in four in dev, by the CRC-32 of the id
        assert all((zlib.crc32(row["id"].encode()) % 4 == 0) == (split == "dev")
                   for row in teacher_injections(split))
    ids = [row["id"] for row in teacher_injections()]
    assert len(set(ids)) == len(ids)
    with pytest.raises(ValueError):
        teacher_injections("eval")


def test_links_are_on_reserved_domains_or_local() -> None:
    hosts = {m.group(1) for row in teacher_injections()
             for m in re.finditer(r"https?://([\w.-]+)", row["text"])}
    reserved = (".example", ".test", ".invalid", "example.com", "example.org", "example.net")
    assert hosts and all(h.endswith(reserved) or h in ("localhost", "app") for h in hosts), hosts


def test_steering_rows_hold_the_split_of_the_teacher_and_the_generator() -> None:
    rows = steering_examples(30, seed=12, split="train")
    assert rows == steering_examples(30, seed=12, split="train")  # seeded
    labels = Counter(row["label"] for row in rows)
    train_attacks = [r for r in teacher_injections("train") if r["label"] == ATTACK]
    train_benign = [r for r in teacher_injections("train") if r["label"] == BENIGN]
    # each teacher attack twice, the generator's 15; each look-alike twice, then 60 look-alikes,
    # 25 messages that are no customer's and 30 customer emails of the generator, and 45 of the
    # teacher's customer mail
    assert labels[ATTACK] == 2 * len(train_attacks) + 15
    assert labels[BENIGN] == 2 * len(train_benign) + 60 + 25 + 30 + 45
    assert all(set(row) == {"subject", "text", "label"} for row in rows)
    dev = {r["text"] for r in teacher_injections("dev") + teacher_injections("probe")}
    assert not any(d in row["text"] for d in dev for row in rows)  # no dev or probe email
    evaluated = steering_examples(6, seed=12, split="eval")
    assert sum(r["label"] == ATTACK for r in evaluated) == 2 * sum(
        r["label"] == ATTACK for r in teacher_injections("dev")) + 3
