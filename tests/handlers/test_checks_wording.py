"""The unfamiliar-wording check: sentences the generator-trained reply adapter never learned."""

from __future__ import annotations

import pytest

from handlers.checks_wording import (
    HOLDING,
    MAX_SENTENCES,
    OPENINGS,
    PASSED_ON,
    body_sentences,
    cut,
    cut_answers,
    hold,
    review,
    unfamiliar_sentences,
)
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
    assert review(draft, KNOWN) == (draft, ())
    assert review(draft, KNOWN, mode="cut") == (draft, ())
    assert cut(draft, KNOWN, "negative", "late_delivery") is None


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
    assert review(draft, KNOWN) == (draft, ("unfamiliar_wording",))  # flagged, as written


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


ACK = "Thanks for checking in about your Corvo 2 smart speaker."
ANSWER = ("We've asked the courier for the latest tracking details and will update you as soon "
          "as we hear back.")
GARBLED = "We'll ask the courier about deliveries to your address will be kept."


def test_cut_drops_a_guess_beside_a_learned_answer_and_keeps_the_layout() -> None:
    draft = (f"Hi Dana,\n\n{ACK} {ANSWER} {GARBLED}\n\nWe'll keep you updated until this is "
             "resolved.\n\nBest regards,\nThe replyd support team")
    mended = cut(draft, KNOWN, "neutral", "late_delivery")
    assert mended == (f"Hi Dana,\n\n{ACK} {ANSWER}\n\nWe'll keep you updated until this is "
                      "resolved.\n\nBest regards,\nThe replyd support team")
    assert review(draft, KNOWN, "neutral", "late_delivery", "cut") == (
        mended, ("unfamiliar_wording",))  # still read by a person: the adapter guessed


def test_a_guessed_answer_gives_way_to_the_holding_line_where_it_stood() -> None:
    thanks = "Thanks for your patience while we sort this out."
    draft = _draft(ACK, GARBLED, thanks)
    assert cut(draft, KNOWN, "negative", "late_delivery") == _draft(ACK, HOLDING, thanks)
    # A thank-you gets its thanks passed on, not a promise to look into something.
    assert cut(draft, KNOWN, "positive", "praise") == _draft(ACK, PASSED_ON, thanks)


def test_the_holding_line_is_the_drafts_one_promise_to_come_back() -> None:
    updated = "We'll keep you updated until this is resolved."
    bearing = "Thanks for bearing with us; we'll be in touch as soon as we know more."
    draft = _draft(ACK, GARBLED, updated, bearing)
    assert cut(draft, KNOWN, "negative", "late_delivery") == _draft(ACK, HOLDING)
    # Where an answer is kept, no holding line comes in and the closing's promise stays.
    assert cut(_draft(ACK, ANSWER, GARBLED, updated), KNOWN, "negative", "late_delivery") == (
        _draft(ACK, ANSWER, updated))


def test_a_guessed_opening_gives_way_to_one_by_sentiment_unless_an_apology_follows() -> None:
    opening = "I'm sorry your order this mistake on the payment system still works out for you."
    assert cut(_draft(opening, ANSWER), KNOWN, "negative", None) == _draft(
        OPENINGS["negative"], ANSWER)
    assert cut(_draft(opening), KNOWN, "neutral", None) == _draft(OPENINGS["neutral"], HOLDING)
    sorry = "I'm really sorry that you're still waiting for your Corvo 2 smart speaker."
    assert cut(_draft(opening, sorry, ANSWER), KNOWN, "negative", None) == _draft(sorry, ANSWER)
    bearing = "Thanks for bearing with us; we'll be in touch as soon as we know more."
    assert cut(_draft(opening, bearing), KNOWN, "negative", None) == _draft(
        OPENINGS["negative"], HOLDING)  # a closing opens nothing, and its promise gives way


@pytest.mark.parametrize("mood", ["negative", "neutral", "positive"])
def test_what_a_cut_writes_is_learned_wording_and_fills_no_answer(mood: str) -> None:
    draft = _draft(GARBLED, "Our warehouse cat ate your parcel.")
    mended = cut(draft, KNOWN, mood, None)  # type: ignore[arg-type]
    assert mended is not None and unfamiliar_sentences(mended, KNOWN) == []
    assert GARBLED not in mended and "cat" not in mended


def test_a_one_letter_initial_is_a_slot_only_as_a_whole_word() -> None:
    initial = Entities(name=("Kevin Doyle", "K Doyle"), product=("Echora Max speaker",))
    draft = _draft("Sorry that the refund for your Echora Max speaker is taking so long.",
                   "We'll keep you updated until this is resolved.")
    assert "We'll keep you updated until this is resolved." not in unfamiliar_sentences(
        draft, initial)


def test_cut_answers_puts_the_holding_line_in_place_of_every_answer() -> None:
    other = "We'll send you the return instructions in a separate email."
    draft = _draft(ACK, ANSWER, other, "We'll keep you updated until this is resolved.")
    assert cut_answers(draft, "negative", "refund_status") == _draft(ACK, HOLDING)
    assert cut_answers(_draft(ACK), "negative", None) is None  # no answer to cut


def test_a_draft_that_answers_nothing_gets_the_holding_line_once() -> None:
    closing = "We're happy to help with anything else you need."
    empty = _draft(ACK, closing)
    assert hold(empty, "negative", None) == _draft(f"{ACK} {HOLDING}", closing)
    assert hold(empty, "positive", "praise") == _draft(f"{ACK} {PASSED_ON}", closing)
    held = hold(empty, "negative", None)
    assert hold(held, "negative", None) == held  # said once
    answered = _draft(ACK, ANSWER)
    assert hold(answered, "negative", "refund_status") == answered
    promised = _draft(ACK, "Thanks for bearing with us; we'll be in touch as soon as we know more.")
    assert hold(promised, "negative", None) == promised  # it says so already


def test_a_new_wording_of_an_answer_to_the_emails_own_case_is_kept() -> None:
    own = ("We'll check the payments on your account now, and any duplicate charge will be put "
           "right.")
    draft = _draft("Thanks for your question about the billing for your order.", own)
    assert unfamiliar_sentences(draft, KNOWN) == [own]  # flagged, for a person to read
    assert cut(draft, KNOWN, "neutral", "billing") is None  # the email's case: kept
    assert review(draft, KNOWN, "neutral", "billing", "cut") == (draft, ("unfamiliar_wording",))
    assert cut(draft, KNOWN, "neutral", "late_delivery") == _draft(
        "Thanks for your question about the billing for your order.", HOLDING)
