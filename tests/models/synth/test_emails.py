"""Tests for the synthetic email generator (models.synth.emails)."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import pytest

from models.synth import email_lists as synth_lists
from models.synth import emails as synth
from models.synth import reply_lists
from models.synth.datasets import write_dataset
from models.synth.emails import (
    SyntheticEmail,
    draft_reply,
    entity_examples,
    generate_emails,
    persona_examples,
    reply_examples,
    vocabulary,
)
from models.synth.typos import inject_typos

N = 300
ALL_PRODUCTS = synth_lists.DEVICES + synth_lists.PLANS
ENTITY_LISTS = {
    "first_name": synth_lists.FIRST_NAMES,
    "surname": synth_lists.SURNAMES,
    "device": synth_lists.DEVICES,
    "plan": synth_lists.PLANS,
    "location": synth_lists.LOCATIONS,
}


@pytest.fixture(scope="module", params=[("train", False), ("eval", False), ("train", True),
                                        ("eval", True)], ids=["train", "eval", "train-more",
                                                              "eval-more"])
def emails(request: pytest.FixtureRequest) -> list[SyntheticEmail]:
    split, more_cases = request.param
    return generate_emails(N, seed=7, split=split, more_cases=more_cases)


# --- lists and splits ---------------------------------------------------------------------------


def test_lists_are_large_and_unique() -> None:
    assert len(ALL_PRODUCTS) >= 60
    assert len(synth_lists.LOCATIONS) >= 80
    assert len(synth_lists.FIRST_NAMES) * len(synth_lists.SURNAMES) >= 500
    for items in ENTITY_LISTS.values():
        assert len(set(items)) == len(items)


def test_entity_strings_never_contain_each_other() -> None:
    # Labels are found by substring, so an overlap would hide an unlabelled entity in a body.
    strings = ALL_PRODUCTS + synth_lists.LOCATIONS
    for a, b in combinations(strings, 2):
        assert a not in b and b not in a, (a, b)
    for part in synth_lists.FIRST_NAMES + synth_lists.SURNAMES:
        assert not any(s in part for s in strings), part


@pytest.mark.parametrize("key", sorted(ENTITY_LISTS))
def test_vocabulary_split_is_a_disjoint_partition(key: str) -> None:
    train, eval_ = set(vocabulary("train")[key]), set(vocabulary("eval")[key])
    assert not train & eval_
    assert train | eval_ == set(ENTITY_LISTS[key])
    assert 0.05 <= len(eval_) / len(ENTITY_LISTS[key]) <= 0.4


def test_generated_splits_share_no_entity() -> None:
    found = {
        split: {kind: {v for e in generate_emails(N, 1, split) for v in e.entities[kind]}
                for kind in ("name", "product", "location")}
        for split in ("train", "eval")
    }
    for kind in ("name", "product", "location"):
        assert found["train"][kind] and found["eval"][kind]
        assert not found["train"][kind] & found["eval"][kind], kind
    # First names alone never cross over either, so a name cannot leak half-way.
    firsts = {split: {n.split()[0] for n in found[split]["name"]} for split in found}
    assert not firsts["train"] & firsts["eval"]
    eval_vocab = vocabulary("eval")
    assert found["eval"]["product"] <= set(eval_vocab["device"] + eval_vocab["plan"])
    assert found["eval"]["location"] <= set(eval_vocab["location"])


def test_unknown_split_is_rejected() -> None:
    with pytest.raises(ValueError):
        generate_emails(3, split="test")  # type: ignore[arg-type]


# --- determinism --------------------------------------------------------------------------------


def test_same_seed_gives_identical_emails() -> None:
    assert generate_emails(60, seed=3) == generate_emails(60, seed=3)
    assert generate_emails(20, seed=3) == generate_emails(60, seed=3)[:20]


def test_different_seed_or_split_gives_different_emails() -> None:
    a, b = generate_emails(60, seed=3), generate_emails(60, seed=4)
    assert [e.body for e in a] != [e.body for e in b]
    # Not just a reshuffle of sentiments: the customers themselves change.
    assert len({e.from_addr for e in a} & {e.from_addr for e in b}) < 10
    assert [e.body for e in a] != [e.body for e in generate_emails(60, seed=3, split="eval")]


def test_global_random_state_is_neither_used_nor_touched() -> None:
    random.seed(1)
    state = random.getstate()
    first = generate_emails(30, seed=5)
    assert random.getstate() == state
    random.seed(999)
    assert generate_emails(30, seed=5) == first


# --- labels -------------------------------------------------------------------------------------


def test_entities_are_exact_substrings_of_the_body(emails: list[SyntheticEmail]) -> None:
    for e in emails:
        assert set(e.entities) == {"name", "product", "location"}
        assert len(e.entities["name"]) <= 1
        for values in e.entities.values():
            assert len(values) == len(set(values))
            for value in values:
                assert value in e.body, (value, e.body)


def test_no_unlabelled_product_or_location_in_the_body(emails: list[SyntheticEmail]) -> None:
    for e in emails:
        for product in ALL_PRODUCTS:
            assert (product in e.body) == (product in e.entities["product"]), (product, e.body)
        for location in synth_lists.LOCATIONS:
            assert (location in e.body) == (location in e.entities["location"]), location


def test_name_is_a_full_name_from_the_split(emails: list[SyntheticEmail]) -> None:
    split = emails[0].message_id.split("-")[2]
    vocab = vocabulary(split)
    full_names = {f"{f} {s}" for f in vocab["first_name"] for s in vocab["surname"]}
    named = [e for e in emails if e.entities["name"]]
    assert 0.5 * N < len(named) < N  # some emails are signed, some are not
    for e in named:
        assert e.entities["name"][0] in full_names


def test_sentiment_is_balanced(emails: list[SyntheticEmail]) -> None:
    counts = Counter(e.sentiment for e in emails)
    assert set(counts) == {"positive", "negative", "neutral"}
    assert all(90 <= c <= 110 for c in counts.values()), counts


def test_message_ids_are_unique_and_well_formed() -> None:
    ids = [e.message_id for split in ("train", "eval") for seed in (0, 1)
           for e in generate_emails(N, seed, split)]
    assert len(set(ids)) == len(ids)
    first = generate_emails(1, seed=4, split="eval")[0]
    assert first.message_id == "<synth-4-eval-0@replyd.example>"


def test_addresses_use_reserved_domains(emails: list[SyntheticEmail]) -> None:
    for e in emails:
        assert re.fullmatch(r"[a-z0-9._]+@example\.(com|org|net)", e.from_addr), e.from_addr
        assert e.to_addr == "support@replyd.example"


# --- variety ------------------------------------------------------------------------------------


def test_bodies_and_entities_vary(emails: list[SyntheticEmail]) -> None:
    assert len({e.body for e in emails}) >= 200
    assert len({e.from_addr.split("@")[0] for e in emails}) >= 150
    if emails[0].message_id.count("-train-"):
        assert len({n for e in emails for n in e.entities["name"]}) >= 150
        assert len({p for e in emails for p in e.entities["product"]}) >= 40
        assert len({loc for e in emails for loc in e.entities["location"]}) >= 50
    more = {e.issue for e in emails} & set(synth_lists.MORE_ISSUES)
    assert len({e.issue for e in emails} - more) == len(synth_lists.ISSUES) - 5
    assert more in (set(), set(synth_lists.MORE_ISSUES))
    assert len({e.subject for e in emails}) >= 20


def test_styles_are_mixed(emails: list[SyntheticEmail]) -> None:
    bodies = [e.body for e in emails]
    words = [len(b.split()) for b in bodies]
    assert min(words) < 40 and max(words) > 80
    assert any(re.search(r"^> ", b, re.MULTILINE) for b in bodies)
    assert any(re.search(r"^On .* wrote:$", b, re.MULTILINE) for b in bodies)
    assert any("!!" in b or "TODAY" in b for b in bodies)
    greeted = sum(b.split("\n\n")[0] in synth_lists.GREETINGS for b in bodies)
    assert 0 < greeted < len(bodies)
    assert any(not e.entities["name"] for e in emails)
    assert any(not e.entities["product"] for e in emails)
    assert any(len(e.entities["product"]) >= 2 for e in emails)
    assert any(not e.entities["location"] for e in emails)
    for e in emails:
        if e.entities["name"]:  # the signature, just above any quoted mail, carries the name
            own_text = re.split(r"\n\n(?:On |> )", e.body)[0]
            assert e.entities["name"][0] in "\n".join(own_text.splitlines()[-3:]), e.body


def test_typos_are_injected_but_never_touch_entities() -> None:
    body = ("Hi, my Nimbus X2 headphones really arrived broken because of the courier.\n"
            "Thanks,\nMaria Gonzalez\n> quoted lines stay exactly as written")
    protected = ["Nimbus X2 headphones", "Maria Gonzalez"]
    changed = 0
    for k in range(40):
        out = inject_typos(body, protected, random.Random(k), k=3)
        changed += out != body
        assert all(p in out for p in protected)
        assert out.endswith("> quoted lines stay exactly as written")
    assert changed == 40


def test_as_incoming_is_json_ready() -> None:
    e = generate_emails(1, seed=2)[0]
    when = datetime(2025, 3, 4, 10, 12, tzinfo=UTC)
    record = e.as_incoming(when)
    assert record == {
        "message_id": e.message_id, "from": e.from_addr, "to": "support@replyd.example",
        "subject": e.subject, "body": e.body, "received_at": "2025-03-04T10:12:00+00:00",
        "thread_id": None, "headers": {},
    }
    assert json.loads(json.dumps(record)) == record


# --- replies and personas -----------------------------------------------------------------------


def test_reply_examples_are_good_drafts() -> None:
    rows = reply_examples(N, seed=11, split="train")
    assert [r["text"] for r in rows] == [e.body for e in generate_emails(N, 11, "train")]
    for row in rows:
        reply, names = row["reply"], row["entities"]["name"]
        first_line = reply.split("\n")[0]
        if names:
            assert first_line == f"Hi {names[0].split()[0]},"
        else:
            assert first_line in {"Hello,", "Hi there,", "Hello there,"}
        for product in row["entities"]["product"]:
            assert product in reply
        if row["sentiment"] == "negative":
            assert "sorry" in reply.lower()
        if row["sentiment"] == "positive":
            assert "thank" in reply.lower()
        assert reply.endswith("\nThe replyd support team")
        assert len(reply.split()) < 120
        bare = reply
        for product in row["entities"]["product"]:
            bare = bare.replace(product, "")
        assert not re.search(r"\d", bare), reply  # no order numbers, amounts or dates


def test_replies_pass_every_draft_check() -> None:
    from handlers.checks import check_draft
    from handlers.types import EmailText, Entities

    for split, more_cases in (("train", False), ("eval", False), ("train", True), ("eval", True)):
        for e in generate_emails(N, seed=11, split=split, more_cases=more_cases):
            entities = Entities(**{k: tuple(v) for k, v in e.entities.items()})
            email = EmailText(e.message_id, e.subject, e.body)
            reply = draft_reply(e)
            assert check_draft(reply, email, e.sentiment, entities) == (), reply
            assert len(reply) <= synth.REPLY_MAX_CHARS


@pytest.mark.parametrize("more_cases", [False, True])
def test_replies_answer_the_request_and_match_the_tone(more_cases: bool) -> None:
    emails = generate_emails(2 * N, seed=11, more_cases=more_cases)
    for e in emails:
        reply = draft_reply(e).casefold()
        assert reply == draft_reply(e).casefold()  # deterministic per message
        apologises = "sorry" in reply or "apolog" in reply
        assert apologises == (e.sentiment == "negative"), reply
        if e.sentiment == "positive":
            assert "thank" in reply
        answers = reply_lists.REPLY_ANSWERS.get(e.request) or reply_lists.REPLY_ANSWERS[e.issue]
        assert any(answer.casefold() in reply for answer in answers), (e.request, reply)
        needs_id = not e.entities["product"] and e.issue in reply_lists.REPLY_ID_KIND
        kind = reply_lists.REPLY_ID_KIND.get(e.issue, "")
        asks = reply_lists.REPLY_ID_ASKS.get(kind, ())
        assert any(ask.casefold() in reply for ask in asks) == needs_id, reply
    requests = {e.request for e in emails}
    assert {"double_charge", "receipts", "timer", "beep", "manual_step", "driver"} <= requests
    by_request = {e.request: draft_reply(e) for e in emails}
    assert "receipts" in by_request["receipts"] and "timer" in by_request["timer"]
    assert ({"missing_part", "refund_status", "warranty_claim", "login_email"} <= requests) \
        == more_cases


def test_more_cases_leave_every_other_email_as_it_was() -> None:
    """Only the reply data carries the added cases, so the other adapters' data is unchanged;
    the emails that stay in the first ten issues are the same, byte for byte."""
    plain, more = generate_emails(N, seed=3), generate_emails(N, seed=3, more_cases=True)
    changed = [m for p, m in zip(plain, more, strict=True) if p != m]
    assert all(m.issue in synth_lists.MORE_ISSUES for m in changed)
    share = len(changed) / sum(e.sentiment != "positive" for e in plain)
    assert abs(share - synth.MORE_CASES_SHARE) < 0.1
    assert [r["text"] for r in reply_examples(N, seed=3, more_cases=True)] == \
        [e.body for e in more]
    with pytest.raises(ValueError, match="reply rows only"):
        write_dataset("sentiment", 5, 3, "train", Path("unused.jsonl"), more_cases=True)


def test_added_cases_keep_every_plain_email_and_follow_them() -> None:
    """``added``: the plain rows first, unchanged, then exactly the rows ``more_cases`` put in
    their place, in order, so a dataset trained before stays a prefix of the new one."""
    plain, more = reply_examples(N, seed=3), reply_examples(N, seed=3, more_cases=True)
    added = reply_examples(N, seed=3, added=True)
    assert added[:N] == plain
    assert added[N:] == [m for p, m in zip(plain, more, strict=True) if p != m]
    assert len(added) > N
    with pytest.raises(ValueError, match="reply rows only"):
        write_dataset("entities", 5, 3, "train", Path("unused.jsonl"), added=True)


def test_replies_vary_in_wording_and_order() -> None:
    replies = [draft_reply(e) for e in generate_emails(N, seed=11)]
    openers = {r.split("\n\n")[1].split(". ")[0] for r in replies}
    closings = {r.split("\n\n")[-2] for r in replies}
    assert len(openers) >= 100 and len(closings) >= 10
    assert len({r.split("\n\n")[-1].split("\n")[0] for r in replies}) >= 5  # sign-off words
    assert len({r.count("\n\n") for r in replies}) >= 2  # paragraph layouts
    # The same issue and sentiment does not always open with the same sentence.
    late = [r for r, e in zip(replies, generate_emails(N, seed=11), strict=True)
            if e.issue == "late_delivery" and e.sentiment == "negative" and e.entities["product"]]
    assert len({r.split("\n\n")[1][:25] for r in late}) >= 3


def test_reply_lists_are_consistent() -> None:
    templates = {t for by in synth_lists.CORE.values() for ts in by.values() for t in ts}
    assert set(reply_lists.CORE_REQUESTS) <= templates
    keys = set(reply_lists.CORE_REQUESTS.values()) | set(synth_lists.ISSUES)
    assert keys == set(reply_lists.REPLY_ANSWERS)
    for issue, by_sentiment in synth_lists.CORE.items():
        assert set(by_sentiment) == set(reply_lists.REPLY_ACKS[issue])
    for name, value in vars(synth_lists).items():
        if name.startswith("REPLY_"):
            assert not re.search(r"\d|https?:|www\.|@", repr(value)), name  # no invented facts


def test_persona_rewrites_keep_every_fact() -> None:
    rows = persona_examples(N, seed=11, split="eval")
    emails = generate_emails(N, seed=11, split="eval")
    for row, e in zip(rows, emails, strict=True):
        assert row["persona"] == "pirate"
        # The persona adapter rewrites what the reply stage is trained to write.
        assert row["text"] == draft_reply(e)
        rewrite = row["rewrite"]
        assert rewrite != row["text"]
        for name in e.entities["name"]:
            assert name.split()[0] in rewrite
        for value in e.entities["product"] + e.entities["location"]:
            if value in row["text"]:
                assert value in rewrite, value
        for marker in ("Ahoy", "matey", "Fair winds"):
            assert marker in rewrite
        assert re.search(r"\bye\b", rewrite) and re.search(r"\barr\b", rewrite, re.IGNORECASE)
        assert rewrite.endswith("\nThe replyd support team")


def test_unknown_persona_is_rejected() -> None:
    with pytest.raises(ValueError):
        persona_examples(2, 0, "train", persona="butler")
    with pytest.raises(ValueError):
        draft_reply(generate_emails(1)[0], persona="butler")


# --- datasets -----------------------------------------------------------------------------------

EXPECTED_KEYS = {
    "sentiment": {"text", "label"},
    "entities": {"text", "entities"},
    "reply": {"text", "sentiment", "entities", "reply"},
    "persona": {"text", "persona", "rewrite"},
}


@pytest.mark.parametrize("task", sorted(EXPECTED_KEYS))
def test_write_dataset_writes_jsonl(task: str, tmp_path: Path) -> None:
    out = tmp_path / "nested" / f"{task}.jsonl"
    assert write_dataset(task, 25, 3, "eval", out) == 25  # type: ignore[arg-type]
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 25
    rows = [json.loads(line) for line in lines]
    assert all(set(row) == EXPECTED_KEYS[task] for row in rows)
    bodies = [e.body for e in generate_emails(25, 3, "eval")]
    if task in ("sentiment", "entities"):  # emails alternate with short messages
        assert [row["text"] for row in rows[::2]] == bodies[:13]
    elif task != "persona":
        assert [row["text"] for row in rows] == bodies
    if task == "sentiment":
        assert {row["label"] for row in rows} == {"positive", "negative", "neutral"}
    if task == "entities":
        assert rows == entity_examples(25, 3, "eval")


def test_write_dataset_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_dataset("summaries", 5, 0, "train", tmp_path / "x.jsonl")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        write_dataset("sentiment", 5, 0, "validation", tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()


def test_empty_and_negative_sizes() -> None:
    assert generate_emails(0) == []
    with pytest.raises(ValueError):
        generate_emails(-1)


@pytest.mark.parametrize("task", ["sentiment", "entities", "reply", "persona", "analysis",
                                  "steering"])
def test_generator_reproduces_the_shipped_adapters_training_data(task: str, tmp_path: Path) -> None:
    """Every default adapter records its data's generator arguments and sha256: the generator
    in this tree must write those bytes again, or the shipped adapter cannot be retrained from
    the documented command (change the generator, then retrain and ship a new ID)."""
    from models.customize.registry import Registry
    from models.files import sha256_file

    registry = Registry()
    manifest = registry.get(registry.defaults()[task])
    made = manifest.data["generator"]
    out = tmp_path / "train.jsonl"
    more = made.get("more_cases", False)  # True: in place of some rows; "added": after them
    write_dataset(task, made["n"], made["seed"], made["split"], out,  # type: ignore[arg-type]
                  more_cases=more is True, added=more == "added",
                  paraphrased=made.get("paraphrased", False))
    assert sha256_file(out) == manifest.data_sha256


def test_paraphrased_emails_tell_the_case_in_other_words_and_leave_the_rest_as_they_were() -> None:
    from handlers import topic
    from models.synth import paraphrase_lists as P

    plain = generate_emails(N, seed=3, more_cases=True)
    told = generate_emails(N, seed=3, more_cases=True, paraphrased=True)
    changed = [(p, t) for p, t in zip(plain, told, strict=True) if p != t]
    # Its own stream: the others are byte for byte the same, labels and all.
    assert 0.2 * N <= len(changed) <= 0.5 * N
    fragments = {issue: [max(re.split(r"\{\w+\}", line), key=len).strip()
                         for lines in by_mood.values() for line in lines]
                 for issue, by_mood in P.PARAPHRASES.items()}
    found = 0
    for p, t in changed:
        assert (t.issue, t.sentiment, t.entities) == (p.issue, p.sentiment, p.entities) or (
            t.entities["name"] == p.entities["name"])
        assert t.request in {t.issue, *P.PARAPHRASE_REQUESTS.values()}
        found += any(fragment in t.body for fragment in fragments[t.issue])
    assert found >= 0.8 * len(changed)  # the rest carry a typo inside the fragment
    # Many no longer carry the reader's words for their case: what the adapter must learn to read.
    unread = sum(topic.classify(t.subject, t.body) != t.issue for _, t in changed)
    assert unread >= 0.2 * len(changed)
    rows = reply_examples(N, seed=3, more_cases=True, paraphrased=True)
    assert [r["text"] for r in rows] == [t.body for t in told]
    with pytest.raises(ValueError, match="reply rows only"):
        write_dataset("sentiment", 5, 3, "train", Path("unused.jsonl"), paraphrased=True)


def test_topic_rows_label_every_case_and_train_on_the_handlers_prompt() -> None:
    from daemon.tools.customize import render_row
    from handlers.topic_model import LABELS

    rows = synth.topic_examples(600, seed=5)
    assert {row["label"] for row in rows} == set(LABELS)  # the 15 cases and "other"
    messages, completion = render_row("topic", rows[0])
    assert completion == LABELS[rows[0]["label"]]
    assert messages[-1].content.endswith("\nRequest:")
    assert synth.topic_examples(600, seed=5) == rows  # reproducible from its seed
