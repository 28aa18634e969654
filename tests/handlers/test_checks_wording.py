"""The unfamiliar-wording check: sentences the generator-trained reply adapter never learned."""

from __future__ import annotations

import pytest

from handlers.checks_wording import MAX_SENTENCES, body_sentences, review, unfamiliar_sentences
from handlers.types import Entities
from models.synth.emails import draft_reply, generate_emails

KNOWN = Entities(name=("Dana Whitlock",), product=("Corvo 2 smart speaker",),
                 location=("Flagstaff",))


def _draft(*sentences: str, greeting: str = "Hi Dana,", sign: str = "Best regards,") -> str:
    return f"{greeting}\n\n{' '.join(sentences)}\n\n{sign}\nThe replyd support team"


@pytest.mark.parametrize(("seed", "split", "more_cases"), [
    (3, "train", False), (3, "eval", True), (12, "eval", False), (12, "train", True)])
def test_no_reply_the_generator_writes_is_flagged(seed: int, split: str, more_cases: bool) -> None:
    # The table is built from the phrase lists, the replies from the generator: a list the
    # table misses, or a slot filled another way, shows here.
    for email in generate_emails(150, seed=seed, split=split, more_cases=more_cases):  # type: ignore[arg-type]
        found = Entities(*(tuple(email.entities[f]) for f in ("name", "product", "location")))
        reply = draft_reply(email)
        assert unfamiliar_sentences(reply, found) == [], (email.message_id, reply)


def test_a_learned_sentence_with_the_customers_product_in_its_slot_passes() -> None:
    draft = _draft("I'm really sorry that you're still waiting for your Corvo 2 smart speaker.",
                   "We've asked the courier for the latest tracking details and will update "
                   "you as soon as we hear back.",
                   "We'll also check for any courier delays around Flagstaff.")
    assert unfamiliar_sentences(draft, KNOWN) == []
    assert review(draft, KNOWN) == ()


@pytest.mark.parametrize("garbled", [
    # Drafts the shipped adapter wrote for mail unlike the generator's.
    "I'm sorry your order this mistake on the payment system still works out for you.",
    "We're checking the invoice's return steps and will let you know if it's there.",
    "We'll ask the courier about deliveries to your address will be kept.",
    "We'll send a fresh invoice with the same details if the original order still exists.",
])
def test_a_sentence_strung_together_by_the_model_is_flagged(garbled: str) -> None:
    draft = _draft("Thanks for checking in about your Corvo 2 smart speaker.", garbled,
                   "We'll keep you updated until this is resolved.")
    assert unfamiliar_sentences(draft, KNOWN) == [garbled]
    assert review(draft, KNOWN) == ("unfamiliar_wording",)


def test_a_product_the_analysis_did_not_find_is_not_a_slot() -> None:
    sentence = "Thanks for checking in about your Halden kettle."
    draft = _draft(sentence)
    assert unfamiliar_sentences(draft, KNOWN) == [sentence]
    found = Entities(name=("Dana Whitlock",), product=("Halden kettle",))
    assert unfamiliar_sentences(draft, found) == []


def test_the_greeting_and_sign_off_are_not_read() -> None:
    draft = _draft("Thanks for checking in about your order.", greeting="Howdy partner,",
                   sign="Cheerio for now,")
    assert body_sentences(draft) == ["Thanks for checking in about your order."]
    assert unfamiliar_sentences(draft, KNOWN) == []


def test_short_sentences_say_nothing_and_curly_apostrophes_are_folded() -> None:
    draft = _draft("Thanks again!", "I\u2019m really sorry that you\u2019re still waiting for "
                   "your order.")
    assert unfamiliar_sentences(draft, KNOWN) == []


def test_at_most_max_sentences_are_read() -> None:
    filler = "We'll keep you updated until this is resolved."
    draft = _draft(*[filler] * MAX_SENTENCES, "Our warehouse cat ate your parcel.")
    assert len(body_sentences(draft)) == MAX_SENTENCES
    assert unfamiliar_sentences(draft, KNOWN) == []
