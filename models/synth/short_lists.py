"""Word lists and templates for short customer messages: review snippets and social posts.

Emails are not the only text customers write. Product reviews are a sentence or two, often
lower-case, with the opinion carried by a handful of evaluative words; social posts are terse,
tokenised, full of handles, hashtags and links, and name people, places and products that are
not the author. :mod:`models.synth.short` composes both from these lists so an adapter sees
those registers too. Nothing here is taken from a corpus: every phrase was written for replyd.

Named entities in posts come from :mod:`models.synth.email_lists` (names, locations) and from
``BRANDED_PRODUCTS`` below, all split into train and eval parts by hash like the email lists.
``COMPANIES`` and ``EVENTS`` are capitalised distractors that must never be labelled.
"""

from __future__ import annotations

# --- review snippets (sentiment) ---------------------------------------------------------------

NOUNS: tuple[str, ...] = (
    "blender", "headphones", "camera", "printer", "vacuum", "kettle", "phone case", "charger",
    "keyboard", "mouse", "router", "speaker", "lamp", "mattress", "backpack", "watch", "tablet",
    "monitor", "tv", "dvd player", "coffee maker", "toaster", "drill", "jacket", "boots",
    "stroller", "car seat", "tent", "grill", "microwave", "hair dryer", "toothbrush", "scale",
    "fan", "heater", "remote", "cable", "memory card", "hard drive", "e-reader", "game", "book",
    "album", "software", "app", "sofa", "desk chair", "frying pan", "knife set", "water bottle",
    "player", "unit", "product", "thing", "radio", "gps", "mp3 player", "receiver",
)

ASPECTS: tuple[str, ...] = (
    "sound quality", "picture quality", "battery life", "build quality", "customer service",
    "price", "instructions", "setup", "design", "fit", "screen", "performance", "delivery",
    "packaging", "noise level", "comfort", "finish", "size", "display", "software", "menu",
    "remote", "cord", "lid", "handle", "straps", "reception", "interface", "warranty", "zoom",
)

POSITIVE_WORDS: tuple[str, ...] = (
    "excellent", "great", "superb", "fantastic", "amazing", "outstanding", "terrific",
    "wonderful", "brilliant", "top-notch", "first-rate", "impressive", "perfect", "solid",
    "really good", "very good", "exceptional", "fabulous", "awesome", "lovely", "stellar",
    "spot on", "crisp and clear", "a real pleasure", "better than expected", "just right",
)

NEGATIVE_WORDS: tuple[str, ...] = (
    "terrible", "awful", "poor", "horrible", "useless", "disappointing", "pathetic", "dreadful",
    "lousy", "atrocious", "abysmal", "shoddy", "subpar", "flimsy", "very bad", "really bad",
    "unacceptable", "a joke", "frustrating", "annoying", "a nightmare", "worse than my old one",
    "garbage", "mediocre at best", "painfully slow", "cheap and nasty",
)

# {noun}, {Noun}, {aspect}, {aspect2}, {pos}, {pos2}, {neg}, {neg2}, {duration}, {relative}
POSITIVE_CLAUSES: tuple[str, ...] = (
    "I love this {noun}.", "I absolutely love it.", "Highly recommended.",
    "I would recommend it to anyone.", "Worth every penny.", "Best {noun} I have ever owned.",
    "It works perfectly.", "Works like a charm.", "It does exactly what it promises.",
    "Very happy with this purchase.", "Five stars.", "You can't beat it for the price.",
    "I'm really impressed with the {aspect}.", "The {aspect} is {pos}.",
    "The {aspect} is {pos} and the {aspect2} is {pos2}.",
    "It was easy to set up and has worked flawlessly ever since.", "My {relative} loves it.",
    "A great value.", "This {noun} exceeded my expectations.", "So glad I bought it.",
    "Couldn't be happier.", "It's a joy to use.", "Not a single problem in {duration}.",
    "Not bad at all, actually very good.", "I'd buy it again in a heartbeat.",
    "{Pos} {noun}, {pos2} price.", "Does the job beautifully.", "Love the {aspect}!",
    "The {aspect} alone makes it worth buying.", "Thrilled with it.",
    "Easily the best purchase I made this year.", "It has made my mornings so much easier.",
    "Quality is {pos} for the money.", "No complaints whatsoever.", "A solid {noun}, well made.",
    "I tell everyone about it.", "It just works, every single time.",
)

NEGATIVE_CLAUSES: tuple[str, ...] = (
    "Total waste of money.", "Don't buy this {noun}.", "I'm sending it back.",
    "Very disappointed.", "It stopped working after {duration}.", "It broke after {duration}.",
    "The {aspect} is {neg}.", "Worst {noun} I've ever bought.", "It feels cheap and flimsy.",
    "Avoid this one.", "Save your money.", "It doesn't work as advertised.",
    "I regret buying it.", "Customer service kept passing me around.", "What a letdown.",
    "It died after {duration} and the warranty was useless.",
    "The {aspect} is {neg} and the {aspect2} is even worse.", "Returned it the next day.",
    "Not worth the money.", "Not great, to be honest.", "I hate this {noun}.", "Complete junk.",
    "Never again.", "It keeps crashing.", "It overheats constantly.",
    "Zero stars if I could.", "The {aspect} is {neg}, period.", "Such a disappointment.",
    "I want my money back.", "It fell apart within {duration}.", "Honestly a rip-off.",
    "The {noun} is {neg}.", "Nothing but problems since day one.",
    "It makes a horrible grinding noise.", "Useless unless you enjoy wasting time.",
    "Sadly it's {neg}.", "I gave up on it after {duration}.",
)

# Opinions stated as facts: a failure report is a complaint and an approving description of a
# feature is praise, though neither uses an evaluative adjective. Written from scratch for replyd
# (an earlier version echoed sentences of the evaluation corpus and was replaced).
IMPLICIT_POSITIVE_CLAUSES: tuple[str, ...] = (
    "Setting it up took me about two minutes.", "The {aspect} does what the box says.",
    "The battery goes {long_time} between charges.", "I now {benefit} every day.",
    "It survived a fall down the stairs.", "I've already ordered a second one for my {relative}.",
    "My {relative} figured it out without the manual.", "It does the work of three gadgets.",
    "We use it {usage} and it keeps going.", "I keep reaching for it over my other {noun}.",
    "One press and it starts to {task}.", "It earned its price back in {duration}.",
    "{duration} in and it runs like the first day.", "Friends keep asking where I got it.",
    "It finished the job before the kettle boiled.", "I stopped looking at other models.",
    "It cleans up in under a minute.", "Half the price of the one I almost bought.",
)
IMPLICIT_NEGATIVE_CLAUSES: tuple[str, ...] = (
    "Mine gave out after {duration}.", "The replacement failed too.", "On day {num} it went dark.",
    "It forgets its settings whenever it is unplugged.", "The {part} snapped off the first week.",
    "It drops the connection every few minutes.", "Half the time it won't turn on.",
    "It needs {num} tries to {task}.", "The {aspect} varies from one day to the next.",
    "The seller stopped answering my emails.", "I'm back to using my old {noun}.",
    "The refund took {duration} to arrive.", "There is a buzz from the speaker at any volume.",
    "The {part} wobbles no matter how tight I screw it.", "I had to tape the {part} shut.",
    "It shut off twice while {usage_ing}.", "Nobody at the help line could tell me why.",
    "The {feature} is missing even though the listing shows it.",
)

# {noun}, {Noun}, {aspect}, {when}, {acc}, {acc2}, {color}, {color2}, {usage}, {num}, {power},
# {compat}, {relative}, {duration}, {day}, {price}
NEUTRAL_CLAUSES: tuple[str, ...] = (
    "I bought this {noun} {when}.", "It comes with {acc} and {acc2}.", "The box contains {acc}.",
    "I ordered the {color} one.", "I use it mostly {usage}.", "It is about {num} inches wide.",
    "It runs on {power}.", "The manual is {num} pages long.", "Does it work with {compat}?",
    "Is there a newer model of this {noun}?", "My {relative} uses it {usage}.",
    "It replaced my old {noun}.", "I have had it for {duration}.", "The {noun} arrived on {day}.",
    "I paid {price} for it.", "It is the same size as the previous model.",
    "The {aspect} is similar to my old one.", "The cord is {num} feet long.",
    "It has {num} speed settings.", "You need an app to change the settings.",
    "It takes {num} AA batteries.", "I'm writing this after {duration} of use.",
    "Update: the replacement part arrived {when}.", "It weighs about {num} pounds.",
    "The instructions are in English and Spanish.",
    "It's available in {color} and {color2}.", "Which version should I get for a small kitchen?",
    "The {noun} uses a standard USB-C cable.", "I bought it as a gift for my {relative}.",
    "It's my second {noun} from this brand.", "The {aspect} can be changed in the menu.",
    "It switches off by itself after {num} minutes.", "The {noun} has a {num}-year warranty.",
    "I compared it with two other models before ordering.",
    "It came in a plain brown box.", "It has a mode meant for use {usage}.",
    "It sits on the counter next to the sink.", "The {noun} ships without {acc}.",
    "How do you reset it to factory settings?", "I read the manual before plugging it in.",
)

TASKS: tuple[str, ...] = (
    "import photos", "switch modes", "change the settings", "pair it with a phone",
    "clean it", "set a timer", "move files over", "swap the attachments",
)
BENEFITS: tuple[str, ...] = (
    "make calls from my basement", "listen in the car", "read in bed without a lamp",
    "get coffee before work", "carry everything in one bag", "back up every photo",
)
LONG_TIMES: tuple[str, ...] = ("a full week", "three days", "all day", "over 20 hours")
PARTS: tuple[str, ...] = ("faceplate", "battery cover", "lid", "handle", "knob", "strap")
FEATURES: tuple[str, ...] = ("radio", "backlight", "timer", "auto shut-off", "volume limit")
USAGES_ING: tuple[str, ...] = ("a movie", "a call", "a song", "cooking", "a download")

ACCESSORIES: tuple[str, ...] = (
    "a USB cable", "a carrying case", "two spare filters", "a wall mount", "a quick start guide",
    "a remote", "an extra battery", "a cleaning brush", "a power adapter", "three attachments",
    "a set of ear tips", "a storage bag",
)
COLORS: tuple[str, ...] = ("black", "white", "silver", "red", "blue", "grey", "green", "beige")
USAGES: tuple[str, ...] = (
    "in the mornings", "at work", "on weekends", "for travel", "in the garage", "for the kids",
    "in the kitchen", "at the gym", "in the car", "for video calls", "while camping",
)
POWER: tuple[str, ...] = ("batteries", "mains power", "USB power", "a rechargeable pack")
COMPAT: tuple[str, ...] = (
    "older laptops", "a 12V socket", "both phones we have", "the previous version's parts",
    "wireless charging pads", "voice assistants",
)
RELATIVES: tuple[str, ...] = (
    "wife", "husband", "son", "daughter", "mum", "dad", "partner", "grandmother", "roommate",
    "brother", "sister",
)
DURATIONS: tuple[str, ...] = (
    "two weeks", "a month", "three days", "six months", "a year", "two days", "a week",
    "ten minutes", "one weekend",
)
DAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
PRICES: tuple[str, ...] = ("$25", "$40", "$89", "$120", "about fifty dollars", "$15 on sale")
WHENS: tuple[str, ...] = ("last month", "in March", "two weeks ago", "before Christmas",
                          "last year", "on Tuesday")

# --- social posts (entities) -------------------------------------------------------------------

# Invented product names in the terse style posts use: phones, games, apps, drinks, gadgets.
BRANDED_PRODUCTS: tuple[str, ...] = (
    "Zentrix 5", "PixelPal", "Glimmer Cola", "Vortexa Pro", "Quasar Pad", "Lumina Z3",
    "Nebula Racer", "Fizzo Lime", "Orbix Watch", "TapTune", "Krona Phone 8", "Starling Tab",
    "Dune Raiders", "Mellow Brew", "SnapDeck", "Vireo Buds", "Helix Slim", "Cirrus Note",
    "Blocky Kingdoms", "Froth Energy", "Waveform One", "Tessera Mini", "Pocketwise",
    "Lumen Reader", "Echo Valley Online", "Trekmate GPS", "Zapp Soda", "Corvid Pro 2",
    "Ivy Home Hub", "Rapid Runner 3", "Glowbar", "MinaCam", "Stormcraft", "Nimble Notes",
    "Boltwave X", "Citrus Spark", "Polyphone 4", "Kudo Stick", "Arcadia Legends",
    "Sable Slate", "Ferro Pan Pro", "Yonder Maps", "Crumb Bar", "Quill Mini", "Tidewater Tea",
    "Zephyr Lite", "Opaline 7", "Strive Band", "Hollow Knightfall", "Pipit Speaker",
    "Marble Run Deluxe", "Gizmo Drive", "Velvet Roast", "Skyforge", "Lark Earphones",
    "Ostara Pad", "BrightCast", "Fable Quest", "Ripcord Rally", "Nova Chat",
)

# Posts name regions and countries as often as cities, and often by a short form. The list is
# systematic, not picked: every US state and its postal code (except codes that are everyday
# words: IN, ME, OR, OK, HI), every Canadian province and territory, the UK's four nations, and
# the countries of the G20 and the EU, with "USA", "UK" and "UAE" as short forms.
REGIONS: tuple[str, ...] = (
    "Alabama", "AL", "Alaska", "AK", "Arizona", "AZ", "Arkansas", "AR", "California", "CA",
    "Colorado", "CO", "Connecticut", "CT", "Delaware", "DE", "Florida", "FL", "Georgia", "GA",
    "Hawaii", "Idaho", "ID", "Illinois", "IL", "Indiana", "Iowa", "IA", "Kansas", "KS", "Kentucky",
    "KY", "Louisiana", "LA", "Maine", "Maryland", "MD", "Massachusetts", "MA", "Michigan", "MI",
    "Minnesota", "MN", "Mississippi", "MS", "Missouri", "MO", "Montana", "MT", "Nebraska", "NE",
    "Nevada", "NV", "New Hampshire", "NH", "New Jersey", "NJ", "New Mexico", "NM", "New York",
    "NY", "North Carolina", "NC", "North Dakota", "ND", "Ohio", "OH", "Oklahoma", "Oregon",
    "Pennsylvania", "PA", "Rhode Island", "RI", "South Carolina", "SC", "South Dakota", "SD",
    "Tennessee", "TN", "Texas", "TX", "Utah", "UT", "Vermont", "VT", "Virginia", "VA",
    "Washington", "WA", "West Virginia", "WV", "Wisconsin", "WI", "Wyoming", "WY", "Ontario",
    "Quebec", "British Columbia", "Alberta", "Manitoba", "Saskatchewan", "Nova Scotia",
    "New Brunswick", "Newfoundland and Labrador", "Prince Edward Island", "Yukon",
    "Northwest Territories", "Nunavut", "England", "Scotland", "Wales", "Northern Ireland",
    "Argentina", "Australia", "Brazil", "Canada", "China", "France", "Germany", "India",
    "Indonesia", "Italy", "Japan", "Mexico", "Russia", "Saudi Arabia", "South Africa",
    "South Korea", "Turkey", "United Kingdom", "United States", "Austria", "Belgium", "Bulgaria",
    "Croatia", "Cyprus", "Czechia", "Denmark", "Estonia", "Finland", "Greece", "Hungary",
    "Ireland", "Latvia", "Lithuania", "Luxembourg", "Malta", "Netherlands", "Poland", "Portugal",
    "Romania", "Slovakia", "Slovenia", "Spain", "Sweden", "USA", "UK", "UAE",
    "United Arab Emirates",
)

# Capitalised names that are not a person, product or place: never labelled (nor are SHOWS,
# TEAMS and BANDS below).
COMPANIES: tuple[str, ...] = (
    "Brightwell Foods", "Tandem Airlines", "Kestrel Bank", "Northgate Telecom",
    "Halcyon Insurance", "Bluefin Logistics", "Oakridge Motors", "Maple Street Bakery",
    "Copperline Media", "Silverpine Energy", "Foxglove Studios", "Redwood Pharmacy",
)
EVENTS: tuple[str, ...] = (
    "Open Mic Night", "Summer Jam", "Game Night", "Taco Tuesday", "Happy Hour", "Black Friday",
    "Music Monday", "Throwback Thursday", "Book Club", "Trivia Night", "Fun Run",
    "Film Festival", "Science Fair", "Farmers Market", "Career Day",
)
# More capitalised names that are not people, products or places: shows, teams and bands.
SHOWS: tuple[str, ...] = (
    "Harbour Lights", "The Night Desk", "Kitchen Kings", "Lost in the Dunes", "Quarter Past",
    "Brass Hearts", "Moonlit Court", "The Long Table",
)
TEAMS: tuple[str, ...] = (
    "Riverside Hawks", "Northern Comets", "Red Valley Rovers", "Bay City Owls",
    "Granite Bears", "Eastside Falcons",
)
BANDS: tuple[str, ...] = (
    "The Paper Lanterns", "Velvet Static", "Dust and Daisies", "The Quiet Engines",
    "Neon Orchard", "Salt Choir",
)
HASHTAGS: tuple[str, ...] = (
    "#travel", "#fail", "#blessed", "#tbt", "#music", "#win", "#mondaymotivation", "#foodie",
    "#nowplaying", "#fml", "#tech", "#weekend", "#love", "#news", "#jobs", "#gameday",
)
EMOTICONS: tuple[str, ...] = (":)", ":D", "<3", ";)", ":(", "lol", "haha", "xD", ":P", "!!")
TITLES: tuple[str, ...] = ("Mr", "Mrs", "Ms", "Dr", "Coach", "Uncle", "Aunt")

# {person}, {person2}, {titled}, {place}, {place2}, {product}, {company}, {event}, {show},
# {team}, {team2}, {band}, {handle}, {handle2}, {url}, {tag}, {emo}, {relative}. A template's
# entities are exactly its {person}, {person2}, {titled}, {place}, {place2} and {product} slots.
POSTS_WITH_ENTITIES: tuple[str, ...] = (
    "had a great day with {person} in {place} {emo}",
    "{person} just got the new {product} and won't stop talking about it {emo}",
    "Live from {place} ! {event} starts in 10 mins {tag}",
    "RT @{handle} : {person} says the {product} update is out now {url}",
    "Good morning {place} ! Coffee and {product} time",
    "New Post : {person} reviews the {product} {url}",
    "watching {event} with {person} , so good {emo}",
    "Flight to {place} delayed again ... {tag}",
    "my {product} died right before the show smh",
    "Happy birthday {person} !!! see you in {place} next week",
    "{company} customer service in {place} is the worst {tag}",
    "Just landed in {place} . Who's around ?",
    "I liked a YouTube video -- {person} on the {product} {url}",
    "@{handle} ask {person} , she knows everything about the {product}",
    "Thinking about moving to {place} , anyone have tips ?",
    "{person} and {person2} killed it tonight at {event} in {place}",
    "Can't believe {person} is coming to {place} ! {tag}",
    "Hiring : Sales Associate - {place} {url}",
    "Weather in {place} today : sunny , 24C",
    "{titled} gave us so much homework today ugh",
    "shoutout to {person} for fixing my {product} {emo}",
    "@{handle} I'm in {place} till Sunday , text me",
    "{person} 's new video is up ! {url}",
    "playing {product} with {person} all night {tag}",
    "Road trip : {place} -> {place2} {emo}",
    "{titled} is the best teacher ever",
    "who else is at the {event} in {place} ?",
    "RT @{handle} : Big sale on the {product} at {company} today only {url}",
    "lunch with {person} then back to {place} {emo}",
    "{person} , {person2} and me at {event} {url}",
    "the {product} is sold out everywhere in {place} {tag}",
    "Missing {place} so much right now",
    "my {relative} bought me a {product} {emo}",
    "Back home in {place} after a week with {person} {emo}",
    "{team} win again ! {place} is going crazy tonight",
    "{band} live in {place} tonight , who's coming ?",
    "just watched {show} with {person} lol",
    "Snow day in {place} ... schools closed {tag}",
    "{person} moved to {place} and I miss her already",
    "Traffic on the bridge into {place} is insane right now",
    "Meeting {person} for lunch in {place} , any tips for food ?",
    "@{handle} yes ! {person} told me about it yesterday",
    "Job : Warehouse Assistant - {place} , {place2} {url}",
    "{person} 's dog is the cutest thing in {place}",
    "Greetings from {place} ! {emo}",
    "New episode of {show} tonight , {person} is in it !",
    "{person} is the only reason I still watch {show}",
    "Rainy morning in {place} , staying in with {person}",
    "listening to {person} on repeat {tag}",
    "{person} 's new album is so good {emo}",
    "{person} was robbed tonight , should have won {tag}",
    "so is {person} dating {person2} now ??",
    "{person} scored twice tonight , {team} win !",
    "can't stop watching {person} interviews lol",
    "{person} for president {emo}",
    "RT @{handle} : {person} to play {place} in June {url}",
    "omg {person} just followed me back !!!",
    "{person} was amazing on {show} last night",
    "new {person} song is out and it's everything {tag}",
    "I love {person} so much it hurts {emo}",
    "{person} and {band} live tonight !!",
    "RT @{handle} : {person} out for the season with a knee injury {url}",
    "who let {person} sing the anthem lol",
    "{person} , {place} loves you !!!",
    "@{handle} {person} is overrated , sorry not sorry",
    "{person} interview on {show} tonight {tag}",
    "dreamt about {person} again {emo}",
    "Back in {place} for the holidays {emo}",
    "@{handle} @{handle2} {place} this weekend ?",
    "Lovely evening in {place} , {place2} tomorrow",
    "Best tacos in {place} hands down {tag}",
)
POSTS_WITHOUT_ENTITIES: tuple[str, ...] = (
    "Good morning ! Happy Friday everyone {emo}",
    "New Post : Top 10 Ways To Save Money {url}",
    "lol that was the best {event} ever",
    "Can't sleep . Again . {tag}",
    "RT @{handle} : Life is too short for bad coffee",
    "Breaking News : Stocks Close Higher {url}",
    "So Excited For The Weekend !!!",
    "@{handle} haha yes ! same here",
    "{event} tonight , who's in ?",
    "OMG This Song Is Everything {tag}",
    "{company} is hiring again {url}",
    "Free Shipping On All Orders This Week Only {url}",
    "Just Finished My First Marathon !!! {emo}",
    "@{handle} @{handle2} see you guys tomorrow",
    "Monday again ... need more coffee {tag}",
    "Check out my latest blog post {url}",
    "Thank You All For The Birthday Wishes {emo}",
    "{company} just announced record profits {url}",
    "Anyone else think {event} should be every week ?",
    "Can't Stop Listening To This {tag}",
    "Best. Day. Ever. {emo}",
    "Watching the game with the family {tag}",
    "{team} lost again . unbelievable {tag}",
    "{band} new album is out {url}",
    "Who's watching {show} tonight ?",
    "Go {team} !!! {emo}",
    "RT @{handle} : {band} just announced a tour {url}",
    "Happy Hour at {company} HQ ! {emo}",
    "leftover curry for dinner again {emo}",
    "finally finished my painting , took all week",
    "new shoes !!! {emo}",
    "my phone died and my charger is at work smh",
    "Praying for everyone affected by the storm",
    "@{handle} lmao no way , send pics",
    "RT @{handle} : retweet if you love pizza",
    "follow @{handle} , best account ever {emo}",
    "@{handle} thanks for the follow !",
    "coffee first , then the gym {tag}",
    "the new update broke everything again lol",
    "reading a book in the park , perfect day",
    "{team} vs {team2} tonight , can't wait",
    "Good night twitterland {emo}",
)
