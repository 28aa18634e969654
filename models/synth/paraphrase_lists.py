"""The same problems in other words: what ``generate_emails(..., paraphrased=True)`` puts in
place of a share of the opening statements of :data:`models.synth.email_lists.CORE`.

Customers rarely name their problem the way the core templates do ("It arrived broken",
"I'd like a refund"); they tell what happened ("it came in bits", "the money hasn't come
back"). A reply adapter trained only on the named forms reads the telling as no case at all and
strings words of its own together. These say each case the way people tell it, mostly without
the words the request reader (:mod:`handlers.topic`) keys on, so the adapter learns to read the
email, not the keyword. Slots as in ``CORE``: ``{item}``, ``{Item}``, ``{when}``.
"""

from __future__ import annotations

# issue -> sentiment -> opening statement, the sentiments of CORE[issue].
PARAPHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "late_delivery": {
        "negative": (
            "I ordered {item} {when} and there's still nothing on my doorstep.",
            "{Item} should have been here by now and the tracking page hasn't changed for days.",
            "It's been ages since I paid for {item} and I still have nothing to show for it.",
            "The website says {item} was handed over, but nobody has brought anything here.",
            "I keep checking for {item} every day and it just never comes.",
        ),
        "neutral": (
            "Could you tell me what's happening with {item}? I placed the order {when}.",
            "I'm still looking out for {item}. Has it actually been sent?",
            "Any idea when {item} will turn up? The last update was {when}.",
            "The parcel page for {item} has said the same thing since {when}.",
        ),
    },
    "broken_item": {
        "negative": (
            "{Item} turned up {when} in bits, with pieces rattling around in the box.",
            "I opened {item} and the front panel was split right across.",
            "{Item} gave up after a few days. It won't do anything now.",
            "Water comes out of the bottom of {item} every time I use it.",
            "{Item} makes a horrible grinding sound and then cuts out.",
        ),
    },
    "wrong_item": {
        "negative": (
            "The box that came {when} had something else in it, not {item}.",
            "I opened the parcel and it isn't {item} at all, it's a completely different model.",
            "What came is the right brand but the wrong size, not {item} as ordered.",
        ),
        "neutral": (
            "The parcel arrived but what's inside doesn't look like {item}. Different colour and "
            "a different model number.",
            "I think there's been a mix of orders: I got someone's item instead of {item}.",
        ),
    },
    "billing": {
        "negative": (
            "My bank shows the same amount taken twice for {item}.",
            "You've taken more from my card for {item} than the price I agreed to.",
            "There's a payment for {item} on my statement that I never agreed to.",
            "I was promised the first month of {item} free and I've paid for it anyway.",
        ),
        "neutral": (
            "The amount I paid for {item} doesn't match what the checkout showed me.",
            "Could someone look at what I've paid for {item}? The numbers don't add up.",
            "I'd like a copy of what I paid for {item} for my records.",
        ),
    },
    "return_request": {
        "negative": (
            "{Item} isn't what I hoped for and I'd rather not keep it.",
            "{Item} doesn't suit us at all. Can I send it to you and get my money back?",
        ),
        "neutral": (
            "I've changed my mind about {item}. It's unused and still in the box.",
            "{Item} was a gift and we already have one. How do I give it back to you?",
            "{Item} is too big for our kitchen, so I'd like to hand it back.",
        ),
    },
    "cancellation": {
        "negative": (
            "I don't want {item} any more and I can't find anywhere to end it.",
            "Please stop {item}. I've had enough of it.",
        ),
        "neutral": (
            "I placed {item} by mistake a few minutes ago. Can it be stopped before it goes out?",
            "I'd like to end {item} when this month runs out.",
        ),
    },
    "feature_question": {
        "neutral": (
            "Does {item} still do its job without the internet?",
            "I'm thinking of getting {item}. Will it fit on a narrow shelf and run quietly?",
            "What exactly can {item} do on its own, without the app?",
            "Would {item} go with the older model I have at home?",
        ),
        "positive": (
            "{Item} has been great so far. Is there a way to make it run a bit quieter?",
            "Really pleased with {item}. Can it be set to switch itself off at night?",
        ),
    },
    "setup_help": {
        "neutral": (
            "I've got {item} out of the box but I'm stuck at the first screen.",
            "The phone can see {item} but it never finishes joining the home network.",
            "I followed the leaflet for {item} twice and the light just keeps flashing.",
        ),
        "negative": (
            "I've spent all evening trying to get {item} going and it just won't talk to my "
            "phone.",
            "{Item} keeps saying it can't reach the internet, however many times I start over.",
        ),
    },
    "praise": {
        "positive": (
            "{Item} has made such a difference in our house.",
            "Just a note to say {item} is everything I wanted.",
            "We use {item} every single day and it hasn't put a foot wrong.",
        ),
    },
    "support_thanks": {
        "positive": (
            "The lady I spoke to about {item} sorted everything in ten minutes.",
            "Whoever dealt with {item} last week deserves a pat on the back.",
            "My problem with {item} is gone thanks to your team. I really appreciate it.",
        ),
    },
    "missing_part": {
        "negative": (
            "{Item} came with only half of what the box says should be there.",
            "There's no charger in the box with {item}, so I can't use it.",
            "{Item} arrived but one of the pieces it needs isn't there.",
        ),
        "neutral": (
            "I think something is short in the box with {item}; the leaflet shows a part I "
            "don't have.",
            "Only some of {item} arrived. Is the rest coming on its own?",
        ),
    },
    "refund_status": {
        "negative": (
            "I sent {item} back weeks ago and the money still hasn't come back to me.",
            "You've had {item} back for ages and I'm still out of pocket.",
            "My card still hasn't been credited for {item}, even though you've got it back.",
        ),
        "neutral": (
            "When should the money for {item} reach my account? It went back to you {when}.",
            "Could you check if the money for {item} has been paid back yet?",
        ),
    },
    "warranty": {
        "negative": (
            "{Item} has died after only a few months. Surely that's still your responsibility?",
            "{Item} packed in well within the first year. What are my options?",
        ),
        "neutral": (
            "{Item} has started to fail after about eight months. Is that something you cover?",
            "If {item} stops working in its second year, would you still repair it?",
        ),
    },
    "address_change": {
        "negative": (
            "I gave the wrong flat number for {item} and it hasn't gone out yet, please fix it.",
            "{Item} is going to my old place and I've moved out.",
        ),
        "neutral": (
            "Could {item} go to my office instead of my home, please?",
            "We're moving before {item} is due. Can it be sent to our new place?",
        ),
    },
    "login_problem": {
        "negative": (
            "I can't get into {item} and the email to get back in never comes.",
            "{Item} keeps telling me my details are wrong and I'm stuck outside it.",
        ),
        "neutral": (
            "How do I get back into {item}? The reset message never reaches me.",
            "I've forgotten the details for {item} and can't get past the first page.",
        ),
    },
}

# Subjects that name no case: a paraphrased email carries one half the time.
VAGUE_SUBJECTS: tuple[str, ...] = (
    "Help please", "Quick question", "My order", "Problem", "Order query", "Hello",
    "Can you help?", "Following up", "Issue with my purchase", "Question",
)

# A paraphrase that asks what a core template with its own answer asks (R.CORE_REQUESTS) is
# answered the same way; every other one gets its issue's answer.
PARAPHRASE_REQUESTS: dict[str, str] = {
    "My bank shows the same amount taken twice for {item}.": "double_charge",
    "You've taken more from my card for {item} than the price I agreed to.": "higher_invoice",
    "There's a payment for {item} on my statement that I never agreed to.": "unknown_charge",
    "I'd like a copy of what I paid for {item} for my records.": "receipts",
    "I don't want {item} any more and I can't find anywhere to end it.": "cancel_button",
    "I'd like to end {item} when this month runs out.": "cancel_period_end",
    "Really pleased with {item}. Can it be set to switch itself off at night?": "timer",
    "The lady I spoke to about {item} sorted everything in ten minutes.": "colleague",
    "Whoever dealt with {item} last week deserves a pat on the back.": "colleague",
    "{Item} has started to fail after about eight months. Is that something you cover?":
        "warranty_claim",
}
