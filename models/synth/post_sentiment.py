"""The sentiment of a generated social post, by construction.

The posts of :mod:`models.synth.short` were written for entity extraction and carried no
sentiment. The joint analysis adapter answers both at once, so its training rows need both
labels on every row. Each post template has a tone of its own (below); an emoticon or hashtag
filled into a neutral template gives it that polarity; a post whose emoticon or hashtag
contradicts its template ("had a great day … :(") or whose template reads either way has no
label and is left out of the joint rows. Only the label is derived: the posts themselves,
and so the entities task's rows, are unchanged.
"""

from __future__ import annotations

POSITIVE_MARKS = frozenset({":)", ":D", "<3", ";)", "xD", "#blessed", "#win", "#love"})
NEGATIVE_MARKS = frozenset({":(", "#fail", "#fml"})

POSITIVE_TEMPLATES = frozenset({
    "had a great day with {person} in {place} {emo}",
    "watching {event} with {person} , so good {emo}",
    "Happy birthday {person} !!! see you in {place} next week",
    "{person} and {person2} killed it tonight at {event} in {place}",
    "Can't believe {person} is coming to {place} ! {tag}",
    "shoutout to {person} for fixing my {product} {emo}",
    "{titled} is the best teacher ever",
    "{person} 's dog is the cutest thing in {place}",
    "{person} 's new album is so good {emo}",
    "{person} scored twice tonight , {team} win !",
    "{person} for president {emo}",
    "omg {person} just followed me back !!!",
    "{person} was amazing on {show} last night",
    "new {person} song is out and it's everything {tag}",
    "I love {person} so much it hurts {emo}",
    "{person} , {place} loves you !!!",
    "{team} win again ! {place} is going crazy tonight",
    "Lovely evening in {place} , {place2} tomorrow",
    "Best tacos in {place} hands down {tag}",
    "Good morning ! Happy Friday everyone {emo}",
    "lol that was the best {event} ever",
    "So Excited For The Weekend !!!",
    "OMG This Song Is Everything {tag}",
    "Just Finished My First Marathon !!! {emo}",
    "Thank You All For The Birthday Wishes {emo}",
    "Can't Stop Listening To This {tag}",
    "Best. Day. Ever. {emo}",
    "Go {team} !!! {emo}",
    "new shoes !!! {emo}",
    "follow @{handle} , best account ever {emo}",
    "@{handle} thanks for the follow !",
    "reading a book in the park , perfect day",
    "{team} vs {team2} tonight , can't wait",
})
NEGATIVE_TEMPLATES = frozenset({
    "Flight to {place} delayed again ... {tag}",
    "my {product} died right before the show smh",
    "{company} customer service in {place} is the worst {tag}",
    "{titled} gave us so much homework today ugh",
    "Missing {place} so much right now",
    "{person} moved to {place} and I miss her already",
    "Traffic on the bridge into {place} is insane right now",
    "{person} was robbed tonight , should have won {tag}",
    "@{handle} {person} is overrated , sorry not sorry",
    "RT @{handle} : {person} out for the season with a knee injury {url}",
    "who let {person} sing the anthem lol",
    "Can't sleep . Again . {tag}",
    "Monday again ... need more coffee {tag}",
    "{team} lost again . unbelievable {tag}",
    "my phone died and my charger is at work smh",
    "the new update broke everything again lol",
})
# Read either way: a fan's complaint, sympathy. No label rather than a guess.
UNLABELLED_TEMPLATES = frozenset({
    "{person} is the only reason I still watch {show}",
    "Praying for everyone affected by the storm",
})


def post_sentiment(template: str, marks: list[str]) -> str | None:
    """The label of a post written from ``template`` with the emoticons and hashtags
    ``marks``; ``None`` where it reads either way."""
    if template in UNLABELLED_TEMPLATES:
        return None
    positive = any(m in POSITIVE_MARKS for m in marks)
    negative = any(m in NEGATIVE_MARKS for m in marks)
    if template in POSITIVE_TEMPLATES:
        return None if negative else "positive"
    if template in NEGATIVE_TEMPLATES:
        return None if positive else "negative"
    if positive and negative:
        return None
    return "positive" if positive else "negative" if negative else "neutral"
