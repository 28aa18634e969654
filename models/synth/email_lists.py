"""Word lists and phrase templates behind :mod:`models.synth.emails`.

The entity lists (names, products, locations) are split into train and eval parts by
``models.synth.emails``. Every entity string must be unique and never a substring of another entity
string or of the phrase templates below: labels are exact substrings of the body, so an
accidental overlap would put an unlabelled entity into an email.

Templates use ``{item}``/``{Item}`` (a product phrase such as "my Nimbus X2 headphones", or a
generic stand-in such as "my order" when no product is named), ``{when}``, ``{name}``,
``{location}``, ``{extras}`` and ``{mood}``. Core templates must read correctly with both kinds
of ``{item}``.
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Maria", "Aisha", "Wei", "Hiroshi", "Olusegun", "Priya", "Lars", "Sofia", "Mateo", "Fatima",
    "Ingrid", "Kwame", "Yuki", "Anika", "Dmitri", "Leila", "Rodrigo", "Amara", "Jonas", "Mei",
    "Ravi", "Elif", "Tomasz", "Zanele", "Luca", "Nadia", "Chinedu", "Astrid", "Javier", "Noor",
    "Kenji", "Efua", "Rafael", "Siobhan", "Arjun", "Freya", "Tariq", "Camille", "Emeka", "Hana",
    "Diego", "Ayesha", "Mikael", "Lucía", "Thabo", "Sakura", "Omar", "Greta", "Vikram", "Ewa",
    "Kofi", "Isabela", "Andrei", "Yasmin", "Björn", "Chloé", "Tendai", "Minh", "Ruth", "Samuel",
    "José", "Søren", "Zoë", "Aroha", "Nikos", "Leilani", "Bongani", "Daniela", "Farid", "Ines",
    "Paolo", "Ngozi", "Jae-won", "Tuomas", "Valentina", "Kiri", "Hamid", "Esther", "Marek",
    "Adaeze",
)

SURNAMES: tuple[str, ...] = (
    "Gonzalez", "Okafor", "Nakamura", "Schmidt", "Kowalski", "Haddad", "Patel", "Nguyen",
    "Johansson", "Rossi", "Mensah", "Silva", "Kim", "Dubois", "O'Brien", "García", "Müller",
    "van der Berg", "Tanaka", "Adeyemi", "Petrov", "Khan", "Fernandes", "Lindqvist", "Murphy",
    "Chatterjee", "Moreau", "Abara", "Hernández", "Novak", "Yilmaz", "Sato", "Osei", "Kaur",
    "Larsen", "Bianchi", "Mwangi", "Costa", "Zhang", "Popescu", "Andersen", "Nair", "Cohen",
    "Ramírez", "Horvath", "Achterberg", "Takahashi", "Balogun", "Fischer", "Wójcik",
    "Papadopoulos", "Mahlangu", "Reyes", "Virtanen", "Aziz", "Lee", "MacLeod", "Eriksson",
    "Ochieng", "Duarte", "Ivanova", "Bakker", "Kapoor", "Jovanović", "Tshabalala", "Nowak",
    "Lindgren", "Castillo", "Farouk", "Hoang", "Walker", "Brennan", "Ngata", "Sokolova",
    "Ferreira", "Halvorsen", "Mbeki", "Ortiz", "Suzuki", "Delacroix",
)

# Physical products: they ship, arrive late, break and get returned.
DEVICES: tuple[str, ...] = (
    "AeroBlend 500 blender", "Nimbus X2 headphones", "Lumo desk lamp", "TerraKettle",
    "Pulse S3 smartwatch", "Drift robot vacuum", "Solace weighted blanket", "Quill e-reader",
    "Brisa tower fan", "Halo video doorbell", "Cumulus air purifier", "Ember coffee grinder",
    "Trailhead 40L backpack", "Vela electric toothbrush", "Orca insulated bottle",
    "Mosaic photo printer", "Strata standing desk", "Tundra mini fridge", "Glide cordless iron",
    "Aurora sunrise alarm clock", "Piccolo espresso machine", "Sonata bookshelf speakers",
    "Ripple foot massager", "Beacon smart plug", "Nomad 20K power bank", "Canopy 3-person tent",
    "Prism LED strip", "Marlow office chair", "Fennel herb garden kit", "Tango stand mixer",
    "Ridgeline trail shoes", "Zephyr hair dryer", "Lattice phone case", "Cobalt gaming mouse",
    "Keystone mechanical keyboard", "Harbor baby monitor", "Sprout kids' tablet",
    "Polaris dash cam", "Meridian bathroom scale", "Juniper humidifier",
    "Tidal waterproof speaker", "Cinder pizza oven", "Basil slow cooker", "Skylark mini drone",
    "Atlas carry-on suitcase", "Wren bird feeder camera", "Opal ring light",
    "Granite cast iron pan", "Nova Fit treadmill", "Lyric karaoke microphone",
    "Cascade shower head", "Vortex XL air fryer", "Sable wireless earbuds", "Kestrel e-bike",
    "Puffin kids' scooter", "Marigold rice cooker", "Sentinel security camera",
    "Bramble orthopedic dog bed", "Whisk hand blender", "Cosmo mini projector",
    "Thimble sewing machine", "Fable audiobook player", "Pebble Go fitness tracker",
    "Saffron spice grinder", "Monsoon garden hose", "Tern folding bike",
)

# Subscriptions and services: they get billed and cancelled.
PLANS: tuple[str, ...] = (
    "Orbit Plus plan", "Orbit Family plan", "StreamBox Premium subscription",
    "CloudVault backup plan", "CareShield extended warranty", "FreshBox meal kit subscription",
    "Spark Basic mobile plan", "Spark Unlimited mobile plan", "HomeGuard monitoring plan",
    "Replenish filter subscription", "Tempo fitness membership", "Bookworm audiobook membership",
    "FiberNet 500 broadband plan", "Pawprint pet insurance", "Gourmet Club coffee subscription",
    "Lumen smart home plan",
)

LOCATIONS: tuple[str, ...] = (
    "Lagos", "São Paulo", "Kraków", "Osaka", "Nairobi", "Reykjavík", "Porto Alegre", "Valparaíso",
    "Hanoi", "Bergen", "Tromsø", "Cork", "Dundee", "Ballarat", "Rotorua", "Kumasi", "Cusco",
    "Chiang Mai", "Izmir", "Tbilisi", "Da Nang", "Halifax", "Winnipeg", "Tucson", "Boise",
    "Asheville", "Guadalajara", "Oaxaca", "Medellín", "Mombasa", "Durban", "Windhoek",
    "Marrakesh", "Tunis", "Alexandria", "Beirut", "Amman", "Muscat", "Lahore", "Pune", "Kochi",
    "Kandy", "Kathmandu", "Dhaka", "Yangon", "Penang", "Cebu", "Surabaya", "Busan", "Sapporo",
    "Kaohsiung", "Ulaanbaatar", "Almaty", "Tashkent", "Yerevan", "Baku", "Gdańsk", "Brno",
    "Ljubljana", "Graz", "Lyon", "Bordeaux", "Ghent", "Utrecht", "Aarhus", "Uppsala", "Tampere",
    "Tartu", "Vilnius", "Cluj-Napoca", "Plovdiv", "Thessaloniki", "Valencia", "Seville", "Bilbao",
    "Bologna", "Turin", "Galway", "Inverness", "Cardiff", "Leeds", "Brighton", "Hobart",
    "Dunedin", "Quebec City", "Saskatoon", "Anchorage", "Santa Fe", "Montevideo", "Arequipa",
    "La Paz", "Quito", "Cartagena", "Accra", "Kigali", "Addis Ababa", "Dakar", "Zanzibar",
    "Antananarivo", "Port Louis", "Suva",
)

MOODS: dict[str, tuple[str, ...]] = {
    "negative": ("frustrated", "really disappointed", "annoyed", "fed up", "upset", "let down",
                 "furious"),
    "positive": ("delighted", "really impressed", "thrilled", "very happy",
                 "pleasantly surprised", "over the moon"),
    "neutral": ("a little confused", "curious", "not quite sure", "a bit puzzled"),
}

MOOD_SENTENCES: dict[str, tuple[str, ...]] = {
    "negative": ("Honestly, I'm {mood}.", "I have to say I'm {mood}.", "I'm {mood}, to be honest."),
    "positive": ("I'm {mood}!", "I have to say I'm {mood}.", "Honestly, I'm {mood}."),
    "neutral": ("I'm {mood} about something and hoping you can help.",
                "I'm {mood} about one thing."),
}

# issue -> (product kind it concerns, generic stand-ins for {item} when no product is named)
ISSUES: dict[str, tuple[str, tuple[str, ...]]] = {
    "late_delivery": ("device", ("my order", "my parcel", "the package")),
    "broken_item": ("device", ("the item I ordered", "my new purchase", "what I ordered")),
    "wrong_item": ("device", ("what I ordered", "the item on my order")),
    "billing": ("plan", ("my subscription", "my account", "my plan")),
    "return_request": ("device", ("my order", "the item I bought", "my purchase")),
    "cancellation": ("plan", ("my subscription", "my plan", "my membership")),
    "feature_question": ("device", ("the device I bought", "my new purchase")),
    "setup_help": ("device", ("the new device", "my new purchase")),
    "praise": ("any", ("my order", "my purchase")),
    "support_thanks": ("any", ("my account", "my order")),
    "missing_part": ("device", ("my order", "my parcel")),
    "refund_status": ("device", ("my order", "my purchase")),
    "warranty": ("device", ("my purchase", "the item I bought")),
    "address_change": ("device", ("my order", "my parcel")),
    "login_problem": ("plan", ("my account", "my subscription")),
}
# The cases only the reply data carries (``generate_emails(..., more_cases=True)``): every other
# dataset, and the adapters trained on it, sees the first ten issues alone.
MORE_ISSUES: tuple[str, ...] = ("missing_part", "refund_status", "warranty", "address_change",
                                "login_problem")

# issue -> sentiment -> opening statement of the problem; the sentiments listed are the ones
# the issue can carry.
CORE: dict[str, dict[str, tuple[str, ...]]] = {
    "late_delivery": {
        "negative": (
            "{Item} was supposed to arrive {when} and it still hasn't shown up.",
            "I'm still waiting for {item}. I ordered {when} and the tracking hasn't moved in days.",
            "Where is {item}? It was due {when} and nobody has told me anything.",
            "{Item} never arrived, even though your website promised delivery {when}.",
        ),
        "neutral": (
            "Could you let me know where {item} is? The estimated delivery was {when}.",
            "Just checking on {item}. It was due {when} and I haven't seen it yet.",
            "I haven't received {item} yet. Is there an updated delivery estimate?",
        ),
    },
    "broken_item": {
        "negative": (
            "{Item} arrived {when} with a cracked casing and it won't turn on.",
            "{Item} stopped working after three days. It just makes a clicking noise now.",
            "I unpacked {item} {when} and part of it was smashed. The box was clearly dropped.",
            "{Item} broke the second time I used it.",
        ),
    },
    "wrong_item": {
        "negative": (
            "The parcel I got {when} doesn't contain {item}. It's something completely different.",
            "What arrived {when} is not {item}. It's the wrong model in the wrong colour.",
            "Instead of {item} I got a box of kitchen towels. How does that even happen?",
        ),
        "neutral": (
            "I think there's been a mix-up: the box I received {when} doesn't match {item}.",
            "The parcel that came {when} seems to be someone else's, not {item}.",
        ),
    },
    "billing": {
        "negative": (
            "I've been charged twice this month for {item}.",
            "You took money from my card for {item} after I had already cancelled it.",
            "My latest invoice for {item} is much higher than what I signed up for.",
        ),
        "neutral": (
            "Could you explain a charge on my latest invoice for {item}? I don't recognise it.",
            "I'd like to switch {item} to annual billing. Is that possible mid-cycle?",
            "Can I get copies of the receipts for {item}? I need them for my expense report.",
        ),
    },
    "return_request": {
        "negative": (
            "I want to return {item}. It's nothing like the description on your website.",
            "{Item} is going back. It feels flimsy and frankly isn't worth the money.",
        ),
        "neutral": (
            "I'd like to return {item}. Nothing is wrong with it, it just isn't what I need.",
            "How do I send back {item}? It was a gift and I already had one.",
            "Is it still possible to return {item}? I bought it {when} and haven't opened it.",
        ),
    },
    "cancellation": {
        "negative": (
            "Cancel {item}, please. I've tried three times online and the button doesn't work.",
            "I want {item} cancelled immediately. The service has been down more often than not.",
        ),
        "neutral": (
            "I'd like to cancel {item} at the end of the current billing period.",
            "Could you tell me how to cancel {item}? I'm moving abroad and won't need it.",
        ),
    },
    "feature_question": {
        "neutral": (
            "Can {item} be used on a timer, or does it have to be switched on by hand?",
            "Is there a way to update the firmware on {item} without a computer?",
            "Does {item} work with the companion app on older phones?",
            "Can {item} run off a car socket when we go camping?",
        ),
        "positive": (
            "I love {item}! One question though: is there a travel case that fits it?",
            "{Item} has been brilliant so far. Can I turn off the beep when it finishes?",
        ),
    },
    "setup_help": {
        "neutral": (
            "I'm setting up {item} and the app can't find it on my Wi-Fi. Is there a reset button?",
            "The manual for {item} skips a step between pairing and calibration. What do I do?",
        ),
        "negative": (
            "I've spent two evenings trying to set up {item} and it still won't connect.",
            "{Item} keeps dropping off the network every hour. I've reset it five times.",
        ),
    },
    "praise": {
        "positive": (
            "I just wanted to say how happy I am with {item}.",
            "{Item} is honestly the best thing I've bought this year.",
            "Quick note to say {item} has been fantastic since it arrived {when}.",
            "Your delivery driver went out of their way to get {item} to me on time.",
        ),
    },
    "support_thanks": {
        "positive": (
            "Thanks so much for sorting out {item} so quickly.",
            "Your colleague on the phone was incredibly patient with me about {item}.",
            "{Item} is all working again. Thank you for the help!",
        ),
    },
    "missing_part": {
        "negative": (
            "{Item} arrived {when} without the power adapter, so I can't even use it.",
            "There was no charging cable in the box with {item}. I've been through all the "
            "packaging.",
            "The screws for {item} weren't in the bag, so it's sitting in pieces on my floor.",
        ),
        "neutral": (
            "{Item} came {when}, but there was no remote in the box. Is it sold separately?",
            "I think something is missing from {item}: the guide shows a wall bracket, but there "
            "wasn't one.",
            "The accessories that should come with {item} weren't in the box. Could you send them?",
        ),
    },
    "refund_status": {
        "negative": (
            "I sent back {item} {when} and I still haven't seen my refund.",
            "You promised me a refund for {item} weeks ago. Where is my money?",
            "It's been over a month since I returned {item}, and no refund has arrived.",
        ),
        "neutral": (
            "Could you check on the refund for {item}? I returned it {when}.",
            "I returned {item} {when}. How long does a refund usually take to come through?",
        ),
    },
    "warranty": {
        "negative": (
            "{Item} stopped charging after eight months. Surely that's covered by the warranty?",
            "The hinge on {item} snapped {when} with normal use. Is that covered under warranty?",
            "{Item} has started overheating and I'd like to make a warranty claim.",
        ),
        "neutral": (
            "How long is the warranty on {item}, and do I need to register it?",
            "If {item} develops a fault, do I send it to you or to the manufacturer?",
            "Is the warranty on {item} still valid if I gave it to my brother as a present?",
        ),
    },
    "address_change": {
        "negative": (
            "I need the delivery address for {item} changed urgently, and your website won't let "
            "me edit it.",
            "{Item} is about to go to my old flat. Please change the address before it's too late!",
        ),
        "neutral": (
            "I've just moved house. Could you send {item} to my new address instead?",
            "Is it too late to change the delivery address for {item}? I ordered it {when}.",
            "I made a typo in the street name when I ordered {item}. Can you correct the address?",
        ),
    },
    "login_problem": {
        "negative": (
            "I've been locked out of {item} since {when}, and the password reset email never "
            "arrives.",
            "Every time I try to log in to {item}, it says my password is wrong, even straight "
            "after a reset.",
        ),
        "neutral": (
            "How do I change the email address I use to sign in to {item}?",
            "I've forgotten my password for {item}, and the reset link in your email has expired.",
        ),
    },
}

# Extra sentences for long emails; tone-neutral so they fit every sentiment of the issue.
DETAILS: dict[str, tuple[str, ...]] = {
    "late_delivery": (
        'The tracking page has said "out for delivery" for four days now.',
        "I've asked the neighbours and checked with the front desk of my building.",
        "I was home all day, so it isn't a missed delivery.",
        "I paid for express shipping so it would arrive in time.",
    ),
    "broken_item": (
        "The packaging looked fine from the outside.",
        "I followed the quick-start guide exactly.",
        "I've attached a couple of photos of the damage.",
        "It was meant to be a birthday present, so the timing is not great.",
    ),
    "wrong_item": (
        "The label on the box has my name on it, so it isn't a neighbour's parcel.",
        "I've kept everything in the original packaging.",
        "The packing slip inside lists the right thing, so something went wrong in the warehouse.",
    ),
    "billing": (
        "I've checked my bank statement twice to be sure.",
        "I haven't changed anything on my account recently.",
        "The payment went out on the same day as the previous one.",
    ),
    "return_request": (
        "Everything is still in the original box.",
        "I still have the confirmation email if you need it.",
        "Store credit would be fine if that's quicker.",
    ),
    "cancellation": (
        "I've been a customer for a long time, so this isn't an easy decision.",
        "The account settings page only offers to pause it, not cancel it.",
    ),
    "feature_question": (
        "I couldn't find anything about this in the manual.",
        "I looked through the FAQ on your website first.",
        "I'm asking before I buy a second one for my parents.",
    ),
    "setup_help": (
        "I've already tried turning it off and on again.",
        "My router is only a year old, so I don't think that's the problem.",
        "The status light just keeps blinking orange.",
    ),
    "praise": (
        "It does exactly what it says on the box.",
        "I've already recommended it to a couple of friends.",
        "Setup took about five minutes, which was a nice surprise.",
    ),
    "support_thanks": (
        "I was dreading the call, but it was painless.",
        "I'd been going back and forth on this for a while, so it's a relief.",
    ),
    "missing_part": ("I've been through all the packaging twice.",
                     "The packing list inside says it should be there.",
                     "Everything else in the box looks fine."),
    "refund_status": ("I used the prepaid label from your website.",
                      "The tracking shows it was delivered back to you.",
                      "Nothing has shown up on my card statement yet."),
    "warranty": ("I still have the receipt.", "I've looked after it carefully.",
                 "I registered it on your website when I bought it."),
    "address_change": ("The new place is only a few streets away.",
                       "I'll be at the old address until the end of the week.",
                       "Everything else on the order is right."),
    "login_problem": ("I've tried two different browsers.", "I've checked my spam folder as well.",
                      "Nothing has changed on my side."),
}

WHEN: tuple[str, ...] = (
    "last week", "last Tuesday", "on Monday", "a week ago", "ten days ago", "over two weeks ago",
    "at the start of the month", "yesterday", "on Friday",
)

GREETINGS: tuple[str, ...] = (
    "Hi,", "Hello,", "Hi there,", "Dear replyd team,", "Dear Support,", "Good morning,",
    "Good afternoon,", "Hello support team,", "To whom it may concern,", "Hey,",
)

INTROS: tuple[str, ...] = (
    "My name is {name}.", "Hi, this is {name}.", "This is {name} writing.",
    "I'm {name}, and I've been a customer of yours for a few years now.",
)

EXTRAS: tuple[str, ...] = (
    "I also ordered {extras} at the same time.", "For context, I also have {extras}.",
    "I already own {extras} from you.", "(I bought {extras} from you too.)",
)

LOCATION_SENTENCES: dict[str, tuple[str, ...]] = {
    "general": ("I'm based in {location}.", "I'm writing from {location}.",
                "I live in {location}, if that matters.", "We're in {location}."),
    "delivery": ("The delivery address is in {location}.",
                 "It's being shipped to {location}, in case that makes a difference.",
                 "We're out in {location}, so maybe it's a courier issue?"),
    "positive": ("Greetings from {location}!",),
}

ANGRY_LINES: tuple[str, ...] = (
    "This is completely unacceptable.", "I'm sick of chasing this.",
    "Frankly, this is the worst customer service I've ever had.", "Sort it out!!",
    "I expect an answer TODAY.", "If this isn't fixed I'll dispute the payment with my bank.",
)

POLITE_LINES: tuple[str, ...] = (
    "I'd really appreciate it if you could look into this.",
    "Sorry to be a pain, but I'd like to get this resolved.",
    "I know these things happen, but I'd like it sorted.",
)

CLOSERS: dict[str, tuple[str, ...]] = {
    "negative": ("Please let me know what happens next.", "I'd like a replacement or a refund.",
                 "Waiting for your reply.", "Can someone get back to me?"),
    "neutral": ("Thanks in advance.", "Any help would be appreciated.",
                "Looking forward to hearing from you.", "Thanks for your help."),
    "positive": ("Keep up the great work!", "Thanks again.", "You've got a customer for life.",
                 "Have a lovely day!"),
}

FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    "negative": ("This is the second time I'm writing about this.",
                 "I still haven't had a proper answer, see below."),
    "neutral": ("Following up on the message below.", "Replying to your earlier email."),
    "positive": ("Just closing the loop on the message below.",),
}

SIGNATURES_NAMED: tuple[str, ...] = (
    "Thanks,\n{name}", "Best regards,\n{name}", "Kind regards,\n\n{name}", "Cheers,\n{name}",
    "Regards,\n{name}", "— {name}", "Many thanks,\n{name}", "{name}",
)
SIGNATURES_ANONYMOUS: tuple[str, ...] = ("Sent from my phone", "Thanks", "Regards", "Cheers")

QUOTED: tuple[str, ...] = (
    "Thanks for getting in touch with replyd support.\n"
    "Could you tell us a little more about what happened?\n\nBest regards,\n"
    "The replyd support team",
    "We're sorry for the delay with your request.\n"
    "We'll get back to you as soon as we have an update.",
    "Thanks for your message. Have you tried restarting the device and checking for updates?",
    "Your case has been passed to our specialist team, who will contact you shortly.",
)

SUBJECTS: dict[str, tuple[str, ...]] = {
    "late_delivery": ("Where is my order?", "Order still not delivered", "Delivery status",
                      "Late delivery"),
    "broken_item": ("Damaged item", "Arrived broken", "Faulty product", "Not working"),
    "wrong_item": ("Wrong item received", "Order mix-up", "This is not what I ordered"),
    "billing": ("Question about my bill", "Charged twice?!", "Invoice query", "Billing"),
    "return_request": ("Return", "Returning an item", "How do I return this?"),
    "cancellation": ("Cancel my subscription", "Cancellation", "Please cancel"),
    "feature_question": ("Quick question", "Product question", "Is this possible?"),
    "setup_help": ("Setup problem", "Can't get it to connect", "Help with setup"),
    "praise": ("Thank you!", "Great product", "Just a quick thanks", "Very happy customer"),
    "support_thanks": ("Thanks for the help", "Problem solved", "Thank you"),
    "missing_part": ("Missing part", "Something missing from the box", "Incomplete order",
                     "Parts missing"),
    "refund_status": ("Refund status", "Where is my refund?", "Still no refund",
                      "Refund not received"),
    "warranty": ("Warranty question", "Is this covered?", "Warranty claim"),
    "address_change": ("Change of address", "Wrong delivery address", "Update my address"),
    "login_problem": ("Can't log in", "Password reset not working", "Locked out of my account",
                      "Login problem"),
}

# Misspellings people actually make; used before falling back to letter-level slips.
MISSPELLINGS: dict[str, str] = {
    "received": "recieved", "definitely": "definately", "separate": "seperate",
    "until": "untill", "because": "becuase", "which": "wich", "really": "realy",
    "address": "adress", "their": "thier", "would": "woudl", "there": "ther",
    "thanks": "thnaks", "please": "plese",
}
