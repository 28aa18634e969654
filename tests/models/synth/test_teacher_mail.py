"""The teacher's customer mail: training rows of the request adapter, split like the generator's."""

from __future__ import annotations

from collections import Counter

from handlers import topic_model
from models.synth import teacher_mail
from models.synth.emails import topic_examples


def test_every_row_is_an_email_with_one_of_the_adapters_labels() -> None:
    train, held = teacher_mail.teacher_rows("train"), teacher_mail.teacher_rows("eval")
    rows = train + held
    assert len(rows) == 720 and len({(r["subject"], r["body"]) for r in rows}) == 720
    counts = Counter(r["label"] for r in rows)
    assert counts == {**dict.fromkeys(topic_model.LABELS, 40), teacher_mail.OTHER: 120}
    assert all(r["body"].strip() for r in rows)


def test_one_email_in_five_is_held_out_and_never_trained_on() -> None:
    train, held = teacher_mail.teacher_rows("train"), teacher_mail.teacher_rows("eval")
    assert 0.15 < len(held) / (len(train) + len(held)) < 0.25
    seen = {(r["subject"], r["body"]) for r in train}
    assert not any((r["subject"], r["body"]) in seen for r in held)
    assert teacher_mail.teacher_rows("eval") == held  # a stable hash, not a shuffle


def test_the_request_rows_mix_the_teachers_mail_into_the_generators() -> None:
    rows = topic_examples(100, seed=3)
    teacher = teacher_mail.teacher_rows("train")
    assert len(rows) == 100 + teacher_mail.REPEAT * len(teacher)
    assert rows == topic_examples(100, seed=3)  # reproducible from its seed
    assert rows != topic_examples(100, seed=4)
    held = topic_examples(100, seed=3, split="eval")
    assert len(held) == 100 + len(teacher_mail.teacher_rows("eval"))
    assert all(r not in teacher for r in held)
