"""Phrase lists behind the replies :mod:`models.synth.emails` writes to its emails: the varied
reply slots the reply adapter learns from and the pirate voice's word swaps (the persona adapter
rewrites those same replies)."""

from __future__ import annotations

# --- reply drafts ---------------------------------------------------------------------------------
# A reply is: greeting, an acknowledgement of the request in the customer's tone, the answer (or
# the next step), a question for whatever support still needs, optional notes on other products
# or the delivery town, a closing, a sign-off. Every slot has several phrasings and the order of
# the middle sentences varies, so a reply adapter learns the job rather than one template.
# Nothing here may contain a digit, a date, an amount, an address or a link: support cannot know
# them, and a model trained on invented facts learns to invent them.

# What a core template asks for, where the right reply differs within one issue; other templates
# are answered at the issue level (REPLY_ANSWERS[issue]).
CORE_REQUESTS: dict[str, str] = {
    "I've been charged twice this month for {item}.": "double_charge",
    "You took money from my card for {item} after I had already cancelled it.":
        "charged_after_cancel",
    "My latest invoice for {item} is much higher than what I signed up for.": "higher_invoice",
    "Could you explain a charge on my latest invoice for {item}? I don't recognise it.":
        "unknown_charge",
    "I'd like to switch {item} to annual billing. Is that possible mid-cycle?": "annual_billing",
    "Can I get copies of the receipts for {item}? I need them for my expense report.": "receipts",
    "Cancel {item}, please. I've tried three times online and the button doesn't work.":
        "cancel_button",
    "I'd like to cancel {item} at the end of the current billing period.": "cancel_period_end",
    "Can {item} be used on a timer, or does it have to be switched on by hand?": "timer",
    "Is there a way to update the firmware on {item} without a computer?": "firmware",
    "Does {item} work with the companion app on older phones?": "older_phones",
    "Can {item} run off a car socket when we go camping?": "car_socket",
    "I love {item}! One question though: is there a travel case that fits it?": "travel_case",
    "{Item} has been brilliant so far. Can I turn off the beep when it finishes?": "beep",
    "I'm setting up {item} and the app can't find it on my Wi-Fi. Is there a reset button?":
        "reset_button",
    "The manual for {item} skips a step between pairing and calibration. What do I do?":
        "manual_step",
    "{Item} keeps dropping off the network every hour. I've reset it five times.":
        "network_drops",
    "Your delivery driver went out of their way to get {item} to me on time.": "driver",
    "Your colleague on the phone was incredibly patient with me about {item}.": "colleague",
    "{Item} stopped charging after eight months. Surely that's covered by the warranty?":
        "warranty_claim",
    "The hinge on {item} snapped {when} with normal use. Is that covered under warranty?":
        "warranty_claim",
    "{Item} has started overheating and I'd like to make a warranty claim.": "warranty_claim",
    "How do I change the email address I use to sign in to {item}?": "login_email",
}

# How to name the subject of the email when no product is named; {item} in the templates below.
REPLY_GENERIC: dict[str, tuple[str, ...]] = {
    "late_delivery": ("your order", "your parcel"),
    "broken_item": ("your order", "the item you received"),
    "wrong_item": ("your order", "what you ordered"),
    "billing": ("your account", "your subscription"),
    "return_request": ("your order", "your purchase"),
    "cancellation": ("your subscription", "your plan"),
    "feature_question": ("your device", "your new purchase"),
    "setup_help": ("your new device", "your new purchase"),
    "praise": ("your order", "your purchase"),
    "support_thanks": ("your account", "your order"),
    "missing_part": ("your order", "your parcel"),
    "refund_status": ("your return", "the item you sent back"),
    "warranty": ("your purchase", "the item you bought"),
    "address_change": ("your order", "your parcel"),
    "login_problem": ("your account", "your subscription"),
}

# issue -> sentiment -> the opening acknowledgement. Negative ones always apologise, positive ones
# always thank, neutral ones do neither beyond thanks for writing. Device names can be plural
# ("headphones"), so templates never make a verb agree with {item}.
REPLY_ACKS: dict[str, dict[str, tuple[str, ...]]] = {
    "late_delivery": {
        "negative": ("I'm sorry for the wait with {item}, and for the worry it's causing.",
                     "I'm really sorry that you're still waiting for {item}.",
                     "Sorry about the delay with {item}; I know how frustrating it is to keep "
                     "checking the tracking."),
        "neutral": ("Thanks for checking in about {item}.",
                    "Thank you for asking about the delivery of {item}.",
                    "Thanks for getting in touch about where {item} has got to."),
    },
    "broken_item": {
        "negative": ("I'm sorry to hear about the fault with {item}.",
                     "I'm really sorry that {item} let you down like this.",
                     "Sorry about the trouble with {item}; that's not the quality we aim for."),
    },
    "wrong_item": {
        "negative": ("I'm sorry you received the wrong thing instead of {item}.",
                     "Sorry about the mix-up with {item}; that one is our mistake to fix.",
                     "I'm really sorry that the wrong parcel turned up instead of {item}."),
        "neutral": ("Thanks for letting us know about the mix-up with {item}.",
                    "Thank you for flagging that the parcel doesn't match {item}."),
    },
    "billing": {
        "negative": ("I'm sorry about the billing trouble with {item}.",
                     "Sorry for the worry the charges on {item} have caused.",
                     "I'm really sorry about the problem with the payments for {item}."),
        "neutral": ("Thanks for your question about the billing for {item}.",
                    "Thank you for getting in touch about {item}."),
    },
    "return_request": {
        "negative": ("I'm sorry that {item} turned out to be a disappointment.",
                     "Sorry that {item} didn't live up to what you expected."),
        "neutral": ("Thanks for letting us know you'd like to return {item}.",
                    "Thank you for getting in touch about sending back {item}."),
    },
    "cancellation": {
        "negative": ("I'm sorry {item} hasn't worked out for you.",
                     "Sorry about the frustration with {item}, and thank you for telling us.",
                     "I'm sorry about the hassle you've had with {item}."),
        "neutral": ("Thanks for letting us know you'd like to cancel {item}.",
                    "Thank you for getting in touch about cancelling {item}."),
    },
    "feature_question": {
        "neutral": ("Thanks for your question about {item}.",
                    "Thank you for asking about {item}."),
        "positive": ("Thank you, it's lovely to hear you're enjoying {item}!",
                     "Thanks so much for the kind words about {item}!"),
    },
    "setup_help": {
        "neutral": ("Thanks for getting in touch about setting up {item}.",
                    "Thank you for the details about the setup of {item}."),
        "negative": ("I'm sorry that setting up {item} has been such a struggle.",
                     "Sorry about the connection trouble with {item}; let's get this sorted."),
    },
    "praise": {
        "positive": ("Thank you so much for your kind words about {item}!",
                     "Thanks for taking the time to tell us about {item}, it made our day.",
                     "What a lovely message about {item}, thank you!"),
    },
    "support_thanks": {
        "positive": ("Thank you for the kind message about {item}!",
                     "Thanks so much for following up about {item}, it's great to hear from you."),
    },
    "missing_part": {
        "negative": ("I'm sorry that {item} arrived with a part missing.",
                     "Sorry about the missing part with {item}; that shouldn't have happened."),
        "neutral": ("Thanks for letting us know that part of {item} was missing from the box.",
                    "Thank you for telling us about the missing part for {item}."),
    },
    "refund_status": {
        "negative": ("I'm sorry you're still waiting for the refund for {item}.",
                     "Sorry that the refund for {item} is taking so long; I know you want it "
                     "settled."),
        "neutral": ("Thanks for checking on the refund for {item}.",
                    "Thank you for asking about the refund for {item}."),
    },
    "warranty": {
        "negative": ("I'm sorry that {item} has developed a fault.",
                     "Sorry to hear about the problem with {item}; let's see what the warranty "
                     "covers."),
        "neutral": ("Thanks for your question about the warranty on {item}.",
                    "Thank you for asking about the warranty for {item}."),
    },
    "address_change": {
        "negative": ("I'm sorry for the stress over the address for {item}.",
                     "Sorry about the trouble with the delivery address for {item}; let's get it "
                     "put right."),
        "neutral": ("Thanks for letting us know about the new address for {item}.",
                    "Thank you for getting in touch about where to send {item}."),
    },
    "login_problem": {
        "negative": ("I'm sorry you've been locked out of {item}.",
                     "Sorry about the trouble signing in to {item}; let's get you back in."),
        "neutral": ("Thanks for getting in touch about signing in to {item}.",
                    "Thank you for your question about the login for {item}."),
    },
}

# request (CORE_REQUESTS) or issue -> what support does next. Only steps support can promise
# without order data: it checks, asks, explains, confirms; it never names a date or an amount.
REPLY_ANSWERS: dict[str, tuple[str, ...]] = {
    "late_delivery": (
        "We've asked the courier for the latest tracking details and will update you as soon as "
        "we hear back.",
        "We're looking into where the parcel is with our delivery partner, and we'll let you "
        "know what they say.",
        "We're checking the parcel's progress with the courier now; if it has gone missing, "
        "we'll talk you through a replacement."),
    "broken_item": (
        "Could you send us a photo of the damage or the fault? Once we've seen it, we'll go "
        "through the replacement and refund options with you.",
        "Please keep the item and its packaging for now, and reply with a photo of the problem "
        "so we can work out the best fix.",
        "A short description of what happens when you use the item, plus a photo if you can, "
        "will help us decide between a repair and a replacement."),
    "wrong_item": (
        "Could you send us a photo of what arrived and of the shipping label? That helps us "
        "trace the mix-up and get the right item to you.",
        "Please hold on to what you received for now; once you've sent us a photo of the "
        "label, we'll arrange for the right item to be sent."),
    "billing": (
        "Our billing team is reviewing your account and will explain exactly what happened.",
        "We're going through the charges on your account and will come back to you with a "
        "clear explanation."),
    "double_charge": (
        "We're checking the payments on your account now, and any duplicate charge will be "
        "put right.",
        "Our billing team is looking into the second payment and will correct it if it was "
        "taken in error."),
    "charged_after_cancel": (
        "We're checking when the cancellation went through and why a payment was still taken, "
        "and we'll put it right if it shouldn't have been.",),
    "higher_invoice": (
        "We're comparing the latest invoice with the plan you signed up for and will explain "
        "the difference.",),
    "unknown_charge": (
        "We're looking at that charge now and will explain exactly what it's for.",
        "Our billing team will check the invoice line you mean and explain what it covers."),
    "annual_billing": (
        "We'll check whether the switch to annual billing can happen mid-cycle and confirm the "
        "options with you.",),
    "receipts": (
        "We'll gather copies of the receipts and send them over for your expense report.",
        "Our billing team will send you copies of the receipts by email."),
    "return_request": (
        "We'll send you the return instructions in a separate email.",
        "A member of the team will follow up with how to send it back.",
        "We'll email you the return steps; please keep the original packaging if you still "
        "have it."),
    "cancellation": (
        "We've passed your request to the accounts team, who will confirm the cancellation "
        "with you.",
        "We can take care of the cancellation from here, and the accounts team will confirm "
        "once it's done."),
    "cancel_button": (
        "There's no need to try the website again: we can cancel it for you from here and will "
        "confirm by email once it's done.",),
    "cancel_period_end": (
        "We've noted that you'd like it to end at the close of the current billing period, and "
        "the accounts team will confirm that with you.",),
    "feature_question": (
        "A product specialist will look into your question and come back to you with the "
        "details.",
        "We're checking with our product team and will come back to you with a proper answer."),
    "timer": (
        "We're checking with the product team whether timer use is supported, and we'll come "
        "back to you with a clear answer.",),
    "firmware": (
        "We're confirming with the product team whether the firmware can be updated without a "
        "computer, and we'll send you the steps.",),
    "older_phones": (
        "We're checking which older phones the companion app supports and will let you know.",),
    "car_socket": (
        "We're confirming with the product team whether it's safe to run from a car socket, "
        "and we'll get back to you before your trip.",),
    "travel_case": (
        "We're checking whether there's a travel case that fits, and we'll let you know what's "
        "available.",),
    "beep": (
        "We're checking whether the finishing beep can be turned off, and we'll send you the "
        "steps if it can.",),
    "setup_help": (
        "Could you tell us which step it stops at and what the status light is doing? We'll "
        "guide you through the rest from there.",
        "Could you reply with what you see on the screen or the status light when it fails? "
        "We'll walk you through it step by step."),
    "reset_button": (
        "Could you tell us what the status light is doing? From there we can walk you through "
        "a reset and reconnecting to your Wi-Fi.",),
    "manual_step": (
        "Could you tell us which step you've reached? We'll walk you through the pairing and "
        "calibration from there.",),
    "network_drops": (
        "Could you tell us roughly how far the device is from your router and what the status "
        "light shows when it drops? That helps us find the cause.",),
    "praise": (
        "We'll pass your message on to the team, they'll be delighted.",
        "It's great to hear it's working so well for you.",
        "Messages like yours make the team's day, so we'll share it with them."),
    "driver": (
        "We'll make sure your thanks reach the delivery team; it's great to hear the driver "
        "went the extra mile.",),
    "support_thanks": (
        "We're glad everything is sorted now.",
        "It's good to hear everything is working again."),
    "colleague": (
        "We'll make sure your thanks reach the colleague who helped you.",),
    "missing_part": (
        "Could you tell us exactly which part is missing? We'll check what should have been in "
        "the box and send it out to you.",
        "We'll send the missing part out to you as soon as we've confirmed what should have been "
        "in the box.",
        "We're checking the packing list for your order, and we'll send whatever is missing "
        "straight out to you."),
    "refund_status": (
        "We're checking with the returns team that it has arrived back with us, and we'll chase "
        "the refund from there.",
        "Our billing team is tracing the refund now and will confirm once it has gone back to "
        "your original payment method.",
        "Once we've confirmed the return reached our warehouse, we'll make sure the refund goes "
        "through and let you know."),
    "warranty_claim": (
        "Could you send us a photo of the fault? We'll check it against the warranty and go "
        "through a repair or a replacement with you.",
        "We'll check your warranty cover for this fault and come back to you with the repair or "
        "replacement options."),
    "warranty": (
        "We're checking the warranty terms for your item and will confirm exactly what's "
        "covered.",
        "A member of the team will confirm the warranty details and what to do if anything goes "
        "wrong."),
    "address_change": (
        "Please reply with the full new address, and we'll update the order if it hasn't left "
        "the warehouse yet.",
        "We'll ask the warehouse to hold the parcel; once you've sent us the new address, we'll "
        "change it if it hasn't gone out."),
    "login_problem": (
        "We'll send a fresh password reset link to the email address on your account; if it "
        "doesn't turn up, please check your spam folder.",
        "Could you confirm the email address you sign in with? We'll check the account and help "
        "you get back in."),
    "login_email": (
        "We can change the sign-in email for you; please reply from the address that's on the "
        "account now, so we know it's yours.",),
}

# issue -> what to ask for when the email names no product: without it support cannot find the
# order or account. Praise and thanks need nothing further.
REPLY_ID_ASKS: dict[str, tuple[str, ...]] = {
    "order": ("Could you reply with your order number, so we can find the right order?",
              "So we can find it, could you send us the order number from your confirmation "
              "email?",
              "Could you tell us which product this is about and the order number?"),
    "device": ("Could you tell us which model you have, so we can give you the right steps?",
               "Which product is this about? Then we can give you the right answer."),
    "plan": ("Could you confirm which plan this is about and the email address on your account?",
             "So we can find your account, could you reply with the name and email address it's "
             "registered under?"),
}
REPLY_ID_KIND: dict[str, str] = {
    "late_delivery": "order", "broken_item": "order", "wrong_item": "order",
    "return_request": "order", "feature_question": "device", "setup_help": "device",
    "billing": "plan", "cancellation": "plan", "missing_part": "order", "refund_status": "order",
    "warranty": "order", "address_change": "order", "login_problem": "plan",
}

# Negative emails only, now and then: one line of empathy after the apology.
REPLY_EMPATHY: tuple[str, ...] = (
    "I understand how frustrating this must be.",
    "I know this isn't the experience you were hoping for.",
    "Thank you for your patience with this.",
)
# A negative follow-up ("This is the second time I'm writing") gets this on top of the apology.
REPLY_CHASED: tuple[str, ...] = (
    "I'm sorry you've had to write to us again about this.",
    "Sorry that you've had to chase us; that shouldn't happen.",
)

REPLY_EXTRAS: tuple[str, ...] = (
    "We've also made a note of {extras} you mentioned.",
    "Thanks for mentioning {extras} as well; it's all noted on your case.",
    "We've noted {extras} too, in case that matters.",
)

REPLY_EXTRAS_SHORT: str = "We've noted {extras} too."

REPLY_LOCATIONS: tuple[str, ...] = (
    "We'll also check for any courier delays around {location}.",
    "We'll ask the courier about deliveries to {location} in particular.",
)

REPLY_CLOSINGS: dict[str, tuple[str, ...]] = {
    "negative": ("Thank you for your patience while we sort this out.",
                 "We'll keep you updated until this is resolved.",
                 "Thanks for bearing with us; we'll be in touch as soon as we know more."),
    "neutral": ("If there's anything else, just reply to this email.",
                "Let us know if you have any other questions.",
                "We're happy to help with anything else you need."),
    "positive": ("Thanks again for taking the time to write to us.",
                 "Enjoy, and let us know if you ever need anything.",
                 "It was lovely to hear from you."),
}

REPLY_SIGN_WORDS: dict[str, tuple[str, ...]] = {
    "negative": ("Best regards,", "Kind regards,", "All the best,", "Best wishes,"),
    "neutral": ("Best regards,", "Kind regards,", "All the best,", "Best wishes,"),
    "positive": ("Best wishes,", "Warm regards,", "All the best,", "Many thanks,"),
}

REPLY_GREETINGS_ANONYMOUS: tuple[str, ...] = ("Hello,", "Hi there,", "Hello there,")

# Whole-word swaps for the pirate voice; entity strings are shielded from them.
PIRATE_WORDS: dict[str, str] = {
    "you": "ye", "You": "Ye", "your": "yer", "Your": "Yer", "yours": "yers",
    "you're": "ye're", "you've": "ye've", "you'll": "ye'll", "team": "crew",
    "colleague": "shipmate", "yes": "aye", "Yes": "Aye", "my": "me",
}
