"""Off-task rules for the steering guard (data for :mod:`handlers.guard`, in the format of
:data:`handlers.guard_rules.FAMILIES`).

Many jailbreaks pasted into mail name no instruction to override and set up no character: they
simply order the reader to produce something no support reply contains: a story, an essay, a
poem, a speech, or instructions for making a weapon or a drug. Sent to a support address, such
an order is an attempt to use the drafter for something else, and its draft needs a person.

* **writing orders**: an order (at a sentence start, after "please", "can you", "I want you to")
  to write a piece of creative or expository writing about something ("write a short story
  about", "tell me a fictional story about", "compose a poem on", "in a short text, reflect on").
  Customers mention such writing ("I'll write a review", "my daughter wrote a poem about the
  lamp", "I'm writing an essay for school"), but do not order it from a shop, so a mention in
  the past tense, in the first person or as a plan is not flagged, and neither is a review, a
  note or a letter (which a customer may ask the shop for);
* **harmful recipes**: how to make, or the components of, a weapon, an explosive or a hard drug
  ("how was a bomb made", "the components used in the development of cocaine"). "Bath bomb" and
  "the bomb" as praise are not flagged.

Patterns run on folded text (lower case, apostrophes gone); a space stands for a short separator
and every gap is bounded (``(?:\\w+ ){0,3}?``, never ``*`` or ``+`` on a class). The wording is
this project's own, written from the kinds of attempt, not copied from any collection.
"""

from __future__ import annotations

# Where an order starts: a line or sentence start, a bracket or quote, or a polite lead-in.
_LEAD = (r"(?:^|[.!?:;,\[(\"*] ?|\b(?:please|now|then|just|pls) |"
         r"\b(?:can|could|would|will) you (?:please |kindly |now )?|"
         r"\bi (?:want|need|would like|d like) you to |\byou (?:will|must|should|are to) )")
_WRITE = (r"(?:(?:write|compose|create|generate|produce|draft|pen|craft|narrate|invent|make up|"
          r"come up with) (?:me |us )?(?:an? |the |one |some |two |three |\d+ )?|(?:tell|give) "
          r"(?:me|us) (?:an?|one|some|two|three|\d+) )")
# Not the task a contest or a writing group sets ("Competition: write a short story about ...",
# "this week's prompt: write a poem about ..."): a newsletter's announcement, not an order to
# the drafter. (\x20 is a space the rules' compiler keeps; lookbehinds need a fixed width.)
_CONTEST = (r"(?<!prompt:\x20)(?<!prompt:)(?<!competition:\x20)(?<!contest:\x20)"
            r"(?<!challenge:\x20)(?<!theme:\x20)")
# Pieces of writing a support reply never is. Not "review", "note", "letter", "guide" or
# "summary": a customer may ask the shop for those.
_PIECES = (r"(?:story|stories|tale|tales|fable|essay|essays|poem|poems|poetry|haiku|sonnet|"
           r"limerick|song|songs|lyrics|rap|screenplay|novel|fan ?fiction|fanfic|monologue|"
           r"speech|sermon|joke|jokes|riddle|blog post|thesis|short text|dialogue|scene)")
_TOPIC = (r"(?:about|on|of|where|in which|based on|describing|explaining|set in|featuring|"
          r"told by|from the (?:perspective|point of view))")
_HARM = (r"(?:(?<!bath.)(?<!photo.)bombs?|explosives?|napalm|thermite|molotov(?: cocktails?)?|"
         r"grenades?|nerve agents?|sarin|ricin|bioweapons?|chemical weapons?|meth|"
         r"methamphetamine|crystal meth|cocaine|heroin|fentanyl|lsd|mdma|ransomware|malware|"
         r"keyloggers?|"
         r"computer virus(?:es)?|untraceable (?:guns?|firearms?|poisons?)|ghost guns?)(?! free\b)")
_MAKE = (r"(?:make|making|made|build|building|built|synthesi[sz]e|synthesi[sz]ing|synthesi[sz]ed|"
         r"cook|cooking|cooked|manufacture|manufacturing|manufactured|produce|producing|"
         r"produced|assemble|assembling|assembled|create|creating|created|develop|developing|"
         r"developed)")
# Between the verb and the thing only an article and a few adjectives: "how to make sure malware
# can't get in" and "the steps to remove the malware" are a customer's questions.
_ARTICLE = (r"(?:an? |the |some )?(?:homemade |home made |simple |small |real |working |"
            r"pipe )?")
_G_HARM = ("bomb bombs explosive explosives napalm thermite molotov grenade grenades nerve agent "
           "agents sarin ricin bioweapon bioweapons chemical weapons meth methamphetamine "
           "cocaine heroin fentanyl lsd mdma ransomware malware keylogger keyloggers computer "
           "virus viruses untraceable ghost guns gun")

OFFTASK_FAMILIES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "writing_order": [
        # "Write a short story about ...", "[tell me a fictional story about ...]".
        (rf"{_LEAD}{_CONTEST}{_WRITE}(?:\w+ ){{0,3}}?{_PIECES} {_TOPIC}\b",
         ("write compose create generate produce draft pen craft narrate tell give invent make "
          "come", "story stories tale tales fable essay essays poem poems poetry haiku sonnet "
          "limerick song songs lyrics rap screenplay novel fiction fanfic monologue speech "
          "sermon joke jokes riddle blog thesis text dialogue scene")),
        # "In a short text, reflect on ...", "in a poem, explain ...".
        (rf"{_LEAD}in an? (?:short |brief |long |detailed )?(?:text|essay|poem|story|song|"
         rf"paragraph), (?:reflect|explain|describe|discuss|argue|write|tell)\b",
         ("text essay poem story song paragraph",
          "reflect explain describe discuss argue write tell")),
    ],
    "harmful_recipe": [
        # "How to make a bomb", "how can I synthesise meth".
        (rf"\bhow (?:to|(?:do|can|could|would) (?:i|you|we|one|people)|(?:i|you|we|one) "
         rf"(?:can|could|would|should)|does one) "
         rf"(?:\w+ ){{0,2}}?{_MAKE} {_ARTICLE}{_HARM}\b",
         ("how", _G_HARM)),
        # "How was a bomb made?", "how a keylogger is built".
        (rf"\bhow (?:(?:is|was|are|were) )?(?:an? |the )?(?:\w+ ){{0,2}}?{_HARM} (?:(?:is|was|are|"
         rf"were|can be|could be) )?{_MAKE}\b",
         ("how", _G_HARM)),
        # "The components used in the development of cocaine", "ingredients for napalm".
        (rf"\b(?:components|ingredients|chemicals|precursors|materials|recipe|steps|"
         rf"instructions) (?:\w+ ){{0,4}}?(?:of|for|in|to) (?:{_MAKE} )?{_ARTICLE}{_HARM}\b",
         ("components ingredients chemicals precursors materials recipe steps instructions",
          _G_HARM)),
    ],
}
