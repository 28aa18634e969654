"""Tests for the draft checker (handlers.checks): each check fails the drafts it is for and
passes the good ones, and every good synthetic reply passes them all."""

from __future__ import annotations

import time

import pytest

from handlers import checks, checks_spelling
from handlers.checks import CHECKS, check_draft
from handlers.types import EmailText, Entities, Sentiment
from models.synth.emails import SyntheticEmail, draft_reply, generate_emails

EMAIL = EmailText(
    "<k@x>",
    "Switching plans",
    "Hi,\n\nI'd like to switch my Spark Basic mobile plan to the Spark Unlimited mobile plan. "
    "Is that possible mid-cycle?\n\nThanks,\nKenji Duarte",
)
KENJI = Entities(name=("Kenji Duarte",), product=("Spark Basic mobile plan",))
ANGRY = EmailText(
    "<t@x>",
    "Broken again",
    "My Vela electric toothbrush stopped working after three days. Order 48213, paid £39.99 on "
    "12/03. This is unacceptable.\n\nDana Okafor",
)
DANA = Entities(name=("Dana Okafor",), product=("Vela electric toothbrush",))

GOOD_KENJI = (
    "Hi Kenji,\n\nThanks for getting in touch about your Spark Basic mobile plan. You can move to "
    "the Spark Unlimited mobile plan at any time, and a member of the team will confirm the "
    "change with you.\n\nBest regards,\nThe replyd support team"
)
GOOD_DANA = (
    "Hi Dana,\n\nI'm sorry your Vela electric toothbrush stopped working so soon. Could you send "
    "us a photo of it? We'll sort out a replacement or a refund for order 48213 from there.\n\n"
    "Kind regards,\nThe replyd support team"
)


def failed(body: str, email: EmailText = EMAIL, sentiment: Sentiment = "neutral",
           entities: Entities = KENJI) -> tuple[str, ...]:
    return check_draft(body, email, sentiment, entities)


def test_good_drafts_pass_every_check() -> None:
    assert failed(GOOD_KENJI) == ()
    assert failed(GOOD_DANA, ANGRY, "negative", DANA) == ()
    assert failed(GOOD_KENJI.replace("Best regards,\n", "")) == ()  # a bare team signature ends it


def test_checks_are_named_constants_in_order() -> None:
    assert CHECKS == ("repetition", "prompt_echo", "customer_voice", "misplaced_condolence",
                      "brush_off", "needless_follow_up", "needless_question", "apology_missing",
                      "length", "unfinished", "invented_facts",
                      "greeting_name", "misspelt_fact", "unsigned")
    assert len(set(CHECKS)) == len(CHECKS)
    everything = "<email>\n" + "I'm sorry for your loss. " * 4
    result = failed(everything, ANGRY, "negative", DANA)
    assert list(result) == [name for name in CHECKS if name in result]  # CHECKS order


# --- repetition ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    "Hi Kenji,\n\n" + "I'm sorry about your device. " * 10,
    "Hi Kenji,\n\nThanks for your message about the plan.\nWe will look into it.\n"
    "Thanks for your message about the plan!\n\nBest regards,\nThe replyd support team",
    # The same words looping inside one never-ending sentence.
    "Hi Kenji, we can switch the plan and we can switch the plan and we can switch the plan and "
    "we can switch the plan.",
])
def test_repetition_fails(body: str) -> None:
    assert "repetition" in failed(body)


def test_short_lines_and_sign_offs_may_repeat() -> None:
    body = ("Hi Kenji,\n\nThanks for your note about the Spark Basic mobile plan. Thanks, Kenji! "
            "We'll switch it for you this cycle.\n\nThanks, Kenji!\n\nBest regards,\n"
            "The replyd support team")
    assert "repetition" not in failed(body)


@pytest.mark.parametrize("body", [
    "I'm sorry about your device. I'm so sorry about your device!",
    "We will look into your order today. We will look into your order soon.",
    # Two sentences of a draft the bare base model wrote (docs/DRAFTS.md, before).
    "I'm sure you're not here to help me with my order.\n\nI'm sure you're here to help me "
    "with my order.",
])
def test_near_duplicate_sentences_are_repetition(body: str) -> None:
    assert checks.has_repetition(body)


@pytest.mark.parametrize("body", [
    "Thank you for your patience. Thank you for your order.",
    "Please send us the order number. Please send us the order number and a photo.",
])
def test_sentences_that_only_share_a_frame_are_not_repetition(body: str) -> None:
    assert not checks.has_repetition(body)


def test_near_duplicate_search_is_bounded() -> None:
    """Only the first NEAR_MAX_SENTENCES sentences are compared pairwise (the cost is bounded
    whatever the text): a near-duplicate pair far down is not looked for."""
    sentences = [f"Alpha{i} beta{i} gamma{i} delta{i} epsilon{i}." for i in range(5_000)]
    assert not checks.has_repetition(" ".join(sentences))
    late = sentences[:checks.NEAR_MAX_SENTENCES] + ["Our team will check the parcel today.",
                                                     "Our team will check the parcel soon."]
    assert not checks.has_repetition(" ".join(late))
    early = ["Our team will check the parcel today.", "Our team will check the parcel soon."]
    assert checks.has_repetition(" ".join([*early, *sentences[:10]]))


@pytest.mark.parametrize(("draft", "found"), [
    ("Hi Björn,\n\nI'm sorry your Juniberx humidifier did not arrive.", ["Juniberx"]),
    ("Ahoy Noer, matey! Yer Juniper humidifier is on its way.", ["Noer"]),
    ("Hi Noor,\n\nThanks for your note. Please tell us more about the Juniper humidifier.", []),
    ("Hi Noor,\n\nThank you. Pulse, Mosaic and Music are not your products.", []),
])
def test_misspelt_names_and_products_are_found(draft: str, found: list[str]) -> None:
    entities = Entities(name=("Noor Murphy",), product=("Juniper humidifier",))
    assert checks.misspelt_facts(draft, entities) == found


@pytest.mark.parametrize(("draft", "found"), [
    ("Sorry about the trouble with that sonata bookcase speaker!", ["sonata bookcase speaker"]),
    ("Your Sonata bookshelf speaker is noted.", []),  # a plural dropped is the same product
    ("Your Sonata speakers are noted.", []),  # shortened: a different word ends the mention
    ("Your Piccolo espresso maker is noted.", []),  # paraphrased
    ("Your Mosaic photos printed well.", []),  # "printed" is "printer" inflected, no slip
    ("Your Kestrel e-bike and the Lyric karaoke microphone.", []),
])
def test_a_product_mangled_after_its_brand_word_is_misspelt(draft: str, found: list[str]) -> None:
    products = ("Sonata bookshelf speakers", "Piccolo espresso machine", "Mosaic photo printer",
                "Kestrel e-bike", "Lyric karaoke microphone")
    assert checks_spelling.mangled_products(draft, products) == found
    entities = Entities(name=(), product=products)
    assert checks.misspelt_facts(draft, entities) == found


def test_generator_replies_misspell_nothing() -> None:
    for e in generate_emails(300, seed=3, split="eval"):
        entities = Entities(tuple(e.entities["name"]), tuple(e.entities["product"]), ())
        assert checks.misspelt_facts(draft_reply(e), entities) == [], e.message_id


def test_a_clause_restated_in_another_sentence_is_repetition() -> None:
    # Two sentences too different for the near-repeat check, one clause of seven words in both.
    draft = ("Hi there,\n\nWe've noted that the sound is too loud, and we're checking the "
             "audio's output with the audio driver. We'll let you know.\n\nWe're checking the "
             "audio's output with the audio driver and will write again.\n\n"
             "Best regards,\nThe replyd support team")
    assert checks.has_repetition(draft)
    assert not checks.has_repetition(draft.replace(
        "We're checking the audio's output with the audio driver and will write again.",
        "We're checking the driver's settings and will write again."))
    assert not checks.has_repetition(GOOD_KENJI) and not checks.has_repetition(GOOD_DANA)


def test_a_second_greeting_line_is_repetition() -> None:
    assert checks.has_repetition("Hello there,\nHi,\n\nThanks for your note about the kettle.")
    assert not checks.has_repetition("Hi Dana,\n\nHello from the team: your kettle is noted.")
    # A greeting that opens a sentence line counts too; one greeting alone never does.
    assert checks.has_repetition("Hello there,\nHi, thank you so much for your note about the "
                                 "kettle.\n\nThe replyd support team")
    assert checks.has_repetition("Hi Dana,\n\nDear Ms Dana Reyes, we have your note.")
    assert not checks.has_repetition("Hi, thank you so much for your note about the kettle.\n\n"
                                     "Hello again from the team: it is noted.")


def test_a_draft_without_the_team_signature_is_unsigned() -> None:
    signed = ("Hi Dana,\n\nThanks for your note about the Vela toothbrush. We'll send the "
              "steps to set it up.\n\nBest regards,\nThe replyd support team")
    assert "unsigned" not in failed(signed)
    assert "unsigned" in failed(signed.rsplit("\n\n", 1)[0])
    assert "unsigned" in failed("")


def test_made_up_proper_nouns_are_invented_facts() -> None:
    source = "My CareShield extended warranty renews in March. Can I switch it to annual billing?"
    assert checks.invented_names("We've noted the CareShield's partner, CareLovely, for you.",
                                 source) == ["CareLovely"]
    assert checks.invented_names("Thanks, I'm glad your CareShield plan works. We'll check.",
                                 source) == []  # sentence starts and source words are fine
    assert checks.invented_names("Write to Help@Example.com today.", "") == []  # a link's job
    # The company's own name is no invention: check_draft grounds it (`company`).
    acme = ("Hi Kenji,\n\nThanks for your note; the Acme team will look at the Spark Basic "
            "mobile plan and write back.\n\nBest regards,\nThe Acme support team")
    assert "invented_facts" in check_draft(acme, EMAIL, "neutral", KENJI)
    assert "invented_facts" not in check_draft(acme, EMAIL, "neutral", KENJI, company="Acme")


# --- prompt echo ---------------------------------------------------------------------------------


@pytest.mark.parametrize("echo", [
    "</email>",
    "<email>",
    "<|im_start|>assistant",
    "Reply: Thanks for writing.",
    "Customer name: unknown\nProducts: none mentioned\nSentiment: neutral",
    "Subject: Switching plans",
    "> I'd like to switch my plan.",
    "assistant: Sure.",
    "On Tue, 17 Sep 2024 at 16:57, replyd support <support@replyd.example> wrote:",
])
def test_prompt_echo_fails(echo: str) -> None:
    body = GOOD_KENJI.replace("\n\nBest regards", f"\n{echo}\n\nBest regards")
    assert "prompt_echo" in failed(body)


def test_words_like_reply_and_subject_inside_sentences_are_fine() -> None:
    body = GOOD_KENJI.replace("any time,", "any time (just reply to this email with the subject "
                              "you like, the user name stays the same),")
    assert "prompt_echo" not in failed(body)


# --- customer voice ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    "Hi,\n\nI'm Kenji Duarte, and I'm writing to switch my Spark Basic mobile plan. Is that "
    "possible?\n\nThanks,\nKenji Duarte",
    "Hello,\n\nMy name is Kenji and I would like to know if the plan can change mid-cycle.\n\n"
    "Thanks in advance.",
    "Hello,\n\nCould you switch the plan to the unlimited one at the end of this cycle please? "
    "Thanks for your help.\n\nBest,\nKenji",
    "Hi,\n\nI ordered the Spark Basic mobile plan last month and it has been slow ever since. "
    "Please fix it.",
    "Hi,\n\nI want a refund for the Spark Basic mobile plan, it has never worked as promised.",
    "Hi Kenji,\n\nI'm not a customer service agent, so I can't change your plan. Please ask the "
    "shop directly.",
    "Hi Kenji,\n\nAs a customer I also find switching plans confusing, good luck with it.",
    "Hi there,\n\nI would like to return the phone and cancel my account. Please confirm by email.",
])
def test_customer_voice_fails(body: str) -> None:
    assert "customer_voice" in failed(body)


@pytest.mark.parametrize("body", [
    GOOD_KENJI,
    "Hi Kenji,\n\nI'm writing to follow up on your question about the Spark Basic mobile plan. I "
    "have ordered a replacement SIM for you, and your order will show it shortly.\n\n"
    "Best regards,\nSam, replyd support",
    "Hi Kenji,\n\nI haven't received the screenshot you mentioned yet. Could you send it again? "
    "Then I'll check your account and confirm the switch.\n\nThanks,\nThe replyd support team",
])
def test_support_sentences_are_not_customer_voice(body: str) -> None:
    assert "customer_voice" not in failed(body)


# --- condolences and apologies -------------------------------------------------------------------


def test_condolences_fail_unless_the_email_mentions_a_death() -> None:
    body = GOOD_DANA.replace("I'm sorry your", "I'm so sorry for your loss. Your")
    assert "misplaced_condolence" in failed(body, ANGRY, "negative", DANA)
    assert "misplaced_condolence" in failed(
        GOOD_DANA.replace("Could you", "Our sympathies. Could you"), ANGRY, "negative", DANA)
    # "died" about a device is not a death in the family.
    died = EmailText("<d@x>", "Dead", ANGRY.body.replace("stopped working", "died"))
    assert "misplaced_condolence" in failed(body, died, "negative", DANA)
    bereaved = EmailText("<b@x>", "Account of my late husband",
                         "My husband passed away in March and I need to close his Orbit Plus plan.")
    body = ("Hello,\n\nPlease accept our condolences. We'll close the Orbit Plus plan for you and "
            "will confirm once it's done.\n\nKind regards,\nThe replyd support team")
    assert "misplaced_condolence" not in failed(body, bereaved, "negative", Entities())


def test_apology_is_required_only_when_negative() -> None:
    no_apology = GOOD_DANA.replace("I'm sorry your", "Thanks for telling us your")
    assert "apology_missing" in failed(no_apology, ANGRY, "negative", DANA)
    assert "apology_missing" not in failed(no_apology, ANGRY, "neutral", DANA)
    assert "apology_missing" not in failed(
        no_apology.replace("Thanks for telling us", "We apologise that"), ANGRY, "negative", DANA)
    assert "apology_missing" not in failed(GOOD_KENJI, EMAIL, "positive")


# --- length and endings --------------------------------------------------------------------------


def test_length_bounds() -> None:
    assert "length" in failed("Hi Kenji,\n\nWe will switch it.\n\nThe replyd support team")
    long_body = "Hi Kenji,\n\n" + " ".join(f"Point {i} about the plan is noted." for i in range(40))
    assert "length" in failed(long_body)
    assert "length" not in failed(GOOD_KENJI)


@pytest.mark.parametrize("ending", [
    "We will check the plan and",
    "We will check the plan.\n\nBest regards,",
    "We will check the plan and\n\nBest regards,\nThe replyd support team",
])
def test_unfinished_fails(ending: str) -> None:
    body = f"Hi Kenji,\n\nThanks for asking about your Spark Basic mobile plan. {ending}"
    assert "unfinished" in failed(body)


@pytest.mark.parametrize("ending", [
    "We will check the plan.",
    "Is Friday fine?",
    "We will check the plan.\n\nBest regards,\nThe replyd support team",
    "We will check the plan.\n\nAll the best,\nSam",
    "We will check the plan.\n\nThanks",
    "We will check the plan.\n\nReplyd Customer Support",
])
def test_finished_endings_pass(ending: str) -> None:
    body = f"Hi Kenji,\n\nThanks for asking about your Spark Basic mobile plan. {ending}"
    assert "unfinished" not in failed(body.replace("Is Friday", "Is that"))


# --- invented facts ------------------------------------------------------------------------------


@pytest.mark.parametrize("fact", [
    "Your order number is 771234.",
    "Your refund of $25.00 is on its way.",
    "You'll get 20% off next month.",
    "It will arrive on 14/11.",
    "It will arrive by March 3rd.",
    "It will arrive on Friday.",
    "It should take 3-5 business days.",
    "See https://help.replyd.example/plans for details.",
    "Write to billing@replyd.example for details.",
    "Call us on +44 20 7946 0958.",
    "We've noted the 120-item order.",
    "It's the model 550 you have.",
])
def test_invented_facts_fail(fact: str) -> None:
    body = GOOD_KENJI.replace("with you.", f"with you. {fact}")
    assert "invented_facts" in failed(body)


@pytest.mark.parametrize("promise", [
    "We've asked the account team to cancel the account by today.",
    "We'll add a voucher for your next order.",
    "We'll send a new one free of charge.",
    "We'll offer you a discount on the plan.",
    "We'll sort it out before the end of the week.",
    "We'll keep you updated until this week's delivery.",
])
def test_promises_the_email_gives_no_ground_for_are_invented(promise: str) -> None:
    body = GOOD_KENJI.replace("with you.", f"with you. {promise}")
    assert "invented_facts" in failed(body)
    assert checks.invented_commitments(promise, "My order is late.")


def test_a_promise_the_email_asks_for_is_grounded_but_a_deadline_never_is() -> None:
    email = "Cancel the Pawprint pet insurance, please. I expect an answer TODAY."
    assert checks.invented_commitments("We can cancel it for you from here.", email) == []
    assert checks.invented_commitments("We'll process the cancellation.", email) == []
    # A deadline is a promise only a person makes, whatever the customer demanded.
    assert checks.invented_commitments("We'll cancel it by today.", email) == ["by today"]
    # Replacements and refunds are the replies' policy offers, not inventions.
    assert checks.invented_commitments(
        "If it has gone missing, we'll talk you through a replacement or a refund.", email) == []


def test_facts_from_the_email_are_grounded() -> None:
    # Order number, amount and date all come from the customer's own email.
    body = GOOD_DANA.replace("from there.", "from there, including the £39.99 you paid on 12/03.")
    assert failed(body, ANGRY, "negative", DANA) == ()
    assert checks.invented_facts("Your order #48213 is noted.", ANGRY.body) == []
    assert checks.invented_facts("Your order #48214 is noted.", ANGRY.body) == ["48214"]
    # Digits inside product names are not facts.
    assert checks.invented_facts("Your Nomad 20K power bank and Pulse S3 smartwatch.", "") == []
    # A count is grounded by the same digits in the email, and only by them.
    invoice = "Invoice 7781 lists 12 licences but we have 10 seats."
    assert checks.invented_facts("The 12 licences and 10 seats are noted.", invoice) == []
    assert checks.invented_facts("We've noted the 120-item order.", invoice) == ["120"]


def test_a_percentage_grounds_no_amount_of_money() -> None:
    # A news item "Executive pay leaps ahead 17%" once got "your $17 isn't being taken care of".
    source = "Executive pay leaps ahead 17% last year."
    assert checks.invented_facts("I'm sorry that your $17 isn't paid.", source) == ["$17"]
    assert checks.invented_facts("Your 17 dollars are on the way.", source) == ["17 dollars"]
    assert checks.invented_facts("Pay rose 17% last year.", source) == []
    # The same digits as money or a plain number still ground it.
    assert checks.invented_facts("Your $17 refund.", "I paid 17 dollars, 5% off.") == []
    assert checks.invented_facts("The €39.99 you paid.", "I paid 39.99 EUR.") == []


@pytest.mark.parametrize("fact", [
    "See https://example-shop.com/returns for details.",
    "See https://help.example-shop.com/plans/48999 for details.",
    "Visit www.example-shop.com/track to follow it.",
    "Write to billing@example-shop.com for details.",
    "Write to BILLING@Mail.Example-Shop.COM for details.",
    "Our site example-shop.com has the form.",
])
def test_links_and_addresses_on_allowed_domains_are_not_invented(fact: str) -> None:
    body = GOOD_KENJI.replace("with you.", f"with you. {fact}")
    assert "invented_facts" in failed(body)
    assert check_draft(body, EMAIL, "neutral", KENJI,
                       allowed_domains=("example-shop.com",)) == ()
    assert checks.invented_facts(fact, "", allowed_domains=["Example-Shop.com."]) == []


@pytest.mark.parametrize("fact", [
    "https://example-shop.com.evil.example/login",  # the allowed name as a subdomain elsewhere
    "https://example-shop.com@evil.example/login",  # userinfo trick: the host is evil.example
    "https://notexample-shop.com/",
    "help@example-shop.co",
    "https://evil.example/?next=example-shop.com",
])
def test_look_alike_hosts_are_still_invented(fact: str) -> None:
    assert checks.invented_facts(f"See {fact} now", "", allowed_domains=("example-shop.com",)
                                 ) == [fact]


def test_the_allow_list_covers_hosts_only() -> None:
    allowed = ("example-shop.com",)
    # Numbers, amounts and dates are still checked against the email.
    assert checks.invented_facts("Order 771234 ships Friday.", "", allowed_domains=allowed) == [
        "771234", "Friday"]
    # One domain given as a bare string is one domain, not its letters; a bare TLD allows none.
    assert checks.invented_facts("x.example-shop.com", "", allowed_domains="example-shop.com"
                                 ) == []
    assert checks.invented_facts("https://evil.com", "", allowed_domains=("com", "")) == [
        "https://evil.com"]
    # The old positional call still works, and without a list nothing is allowed.
    assert check_draft(GOOD_KENJI, EMAIL, "neutral", KENJI) == ()
    assert checks.invented_facts("https://example-shop.com", "") == ["https://example-shop.com"]


# --- greeting ------------------------------------------------------------------------------------


def test_greeting_uses_the_first_name_when_known() -> None:
    assert "greeting_name" in failed(GOOD_KENJI.replace("Hi Kenji,", "Hello,"))
    assert "greeting_name" not in failed(GOOD_KENJI.replace("Hi Kenji,", "Dear Kenji,"))
    assert "greeting_name" not in failed(GOOD_KENJI.replace("Hi Kenji,", "Hello,"),
                                         entities=Entities())
    titled = Entities(name=("Dr Okafor",))
    assert "greeting_name" not in failed(GOOD_KENJI.replace("Hi Kenji,", "Dear Dr Okafor,"),
                                         entities=titled)
    assert checks.address_name("Dr. Ada Okafor") == "Dr. Okafor"
    assert checks.address_name("Kenji Duarte") == "Kenji"
    assert checks.address_name("  ") is None
    assert checks.address_name("T. Haverford") is None  # no one is greeted "Hi T.,"
    initial = Entities(name=("J Whitfield",))  # no name to greet by: "Hello," is right
    assert "greeting_name" not in failed(GOOD_KENJI.replace("Hi Kenji,", "Hello,"),
                                         entities=initial)
    assert checks.address_name("J Whitfield") is None
    assert checks.address_name("Mrs M. Ellison") == "Mrs Ellison"


# --- the generator's replies, and cost -----------------------------------------------------------


def as_inputs(e: SyntheticEmail) -> tuple[EmailText, Sentiment, Entities]:
    entities = Entities(**{key: tuple(values) for key, values in e.entities.items()})
    return EmailText(e.message_id, e.subject, e.body), e.sentiment, entities


@pytest.mark.parametrize("split", ["train", "eval"])
def test_every_good_synthetic_reply_passes(split: str) -> None:
    for e in generate_emails(300, seed=0, split=split):  # type: ignore[arg-type]
        reply = draft_reply(e)
        assert check_draft(reply, *as_inputs(e)) == (), (e.issue, e.sentiment, reply)


@pytest.mark.parametrize("unit", [
    "Thanks for the note about it and sorry that it went wrong, we will look. ",
    "Thanks for the note about it and sorry that it went wrong we will look ",  # one sentence
    "a.", "a", "1,", "1", "!) ", "x@", "<  ",  # runs that some patterns could rescan
])
def test_cost_grows_linearly_with_the_draft(unit: str) -> None:
    email, sentiment, entities = as_inputs(generate_emails(1)[0])

    def seconds(chars: int) -> float:
        body = unit * (chars // len(unit))
        best = float("inf")
        for _ in range(3):  # best of three: the machine is shared
            started = time.perf_counter()
            check_draft(body, email, sentiment, entities)
            best = min(best, time.perf_counter() - started)
        return best

    small, large = seconds(10_000), seconds(160_000)
    assert large < 16 * 4 * small + 0.02  # 16x the text; a quadratic checker would be ~256x


def test_links_names_urls_domains_and_addresses_but_not_dates_or_amounts() -> None:
    text = ("Log in at https://evil.example.net/x or write to bob@mail.com (see shop.example.com). "
            "Jan. 5, $4.50, 555-123-4567, order 48213.")
    assert checks.links(text) == ["https://evil.example.net/x", "bob@mail.com",
                                  "shop.example.com"]
    assert checks.links(text, allowed_domains=("example.com",)) == [
        "https://evil.example.net/x", "bob@mail.com"]
