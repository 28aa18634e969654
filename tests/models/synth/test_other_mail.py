"""The generator of benign mail that is no customer's request (models.synth.other_mail)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from models.synth.injections import BENIGN
from models.synth.other_mail import KINDS, generate_other_mail, other_mail_examples


def test_every_kind_in_turn_and_all_benign() -> None:
    mail = generate_other_mail(3 * len(KINDS), seed=4)
    assert [m.family for m in mail] == list(KINDS) * 3
    assert {m.label for m in mail} == {BENIGN}
    assert len({m.id for m in mail}) == len(mail)


def test_slots_are_filled_and_texts_vary() -> None:
    mail = generate_other_mail(400, seed=5)
    for m in mail:
        assert not re.search(r"\{\w*\}", m.subject + m.body), m.id
        assert m.subject.strip() and len(m.body) > 80
    assert len({m.body for m in mail}) > 380  # a few notices may repeat, little else
    assert Counter(m.family for m in mail)["code"] == 50


def test_deterministic_per_seed() -> None:
    assert generate_other_mail(20, seed=3) == generate_other_mail(20, seed=3)
    assert [m.body for m in generate_other_mail(20, seed=3)] != [
        m.body for m in generate_other_mail(20, seed=4)]


def test_examples_are_json_ready_and_counts_checked() -> None:
    rows = other_mail_examples(8, seed=2)
    assert set(rows[0]) >= {"id", "label", "family", "subject", "text"}
    assert rows[0]["id"] == "oth-2-0000"
    with pytest.raises(ValueError):
        generate_other_mail(-1)
