"""Role-play and character-card rules for the steering guard (data for :mod:`handlers.guard`).

Many jailbreaks name no instruction to override and use few of the words the co-occurrence rule
of :mod:`handlers.guard_rules` counts. They set up a character instead: they give the reader a
new identity ("from now on you are Quill, a ..."), standing orders for every answer ("you will
always start with ..."), a template slot for the real request ("[put your question here]"), or
a game, script or fake chat transcript. One such cue is ordinary in customer mail ("act as my
guarantor", "let's start with the invoice"); several *kinds* close together are not. The text
is flagged when some window of CUE_WINDOW characters holds CUE_MIN_KINDS different kinds, one
of them a key kind (a role, a slot, chatbot words or a split request).

The patterns follow :mod:`handlers.guard_rules`' conventions: they run on folded text (lower
case, apostrophes gone: "you're" is "youre"), a space stands for a short separator and `` ?``
for an optional one, and every gap is bounded (``{0,40}?``, never ``*`` or ``+`` on a class).
The wording is this project's own, written from the families of attacks, not copied from any
collection.
"""

from __future__ import annotations

# Each kind of cue: one expression, alternatives joined by "|". A match counts once per kind.
CUES: dict[str, str] = {
    # A new identity or role for the reader.
    "assign": (
        r"\byou(?: are|re) now\b|\bfrom now on\b|\bhenceforth\b|\byou now go by\b|"
        r"\bgo(?:es)? by the name\b|\btransform(?:ing)? into\b|\bpersonify\b|"
        r"\btake (?:up|on) the (?:persona|role|character|identity)\b|"
        r"\byou are to (?:act|be|play|pretend|become|respond)\b|"
        r"\bi want you to (?:act|be|pretend|play|become|respond|behave|roleplay|simulate|"
        r"imagine|answer)\b|"
        r"\byou will (?:act|play|become|pretend|roleplay|simulate|serve as)\b|"
        r"\b(?:now )?you act as\b|\b(?:act|behave|respond|answer|reply|talk|speak) like\b|"
        r"\b(?:respond|answer|reply|talk|speak|write) as (?:if you were|such|him|her|them|"
        r"that|the|this|an?|[a-z]+ ?[.:,!])|"
        r"\bplay(?:ing)? the (?:role|part) of\b|\bin the style of\b|"
        r"\bthe following is a (?:conversation|dialogue|chat)\b|"
        r"\bimagine (?:you are|youre|that you|yourself)\b|\blets imagine\b|"
        r"\byou are in a (?:\w+ ){0,2}?world\b|\brole is now\b|"
        r"\b(?:function|operate) in the capacity of\b"),
    # Standing orders that bind every later answer.
    "orders": (
        r"\byou will (?:always|only|never|not|also) (?:\w+ ){0,2}?(?:answer|respond|reply|say|"
        r"write|speak|talk|start|begin|prefix|use|generate|produce|refuse|break|stay|stick)\b|"
        r"\b(?:always|only) (?:answer|respond|reply|start|begin|end|complete)\b|"
        r"\b(?:prefix|start|begin|end) (?:all |each |every )?(?:of )?your (?:answers|responses|"
        r"replies|messages|outputs)\b|"
        r"\b(?:start|begin|end) (?:each|every) (?:message|response|reply|answer|output)\b|"
        r"\bfor (?:each|every) (?:response|reply|answer|prompt|question)\b|"
        r"\b(?:every|each) prompt\b|\bno matter what\b|\bwhatever (?:they|i|you|the user|"
        r"anyone|people|someone) asks?\b|\bstay in character\b|"
        r"\b(?:do not|dont|never) (?:write|give|add|include) explanations\b|"
        r"\b(?:reply|respond|answer) only with\b|\byou must (?:always|never|return|respond|"
        r"answer|reply)\b|"
        r"\b(?:respond|answer|reply|write) in (?:a|an|the) (?:\w+ ){0,2}?(?:tone|voice)\b|"
        r"\b(?:in|into|using) the (?:above|following) format\b|\bin above format\b"),
    # Words of the chatbot's own world.
    "meta": (
        r"\bchat ?gpt\b|\bgpt\b|\bgpt \d|\bopenais?\b|\blanguage model\b|\bas an ai\b|"
        r"\ban ai\b|\bai (?:assistant|bot|model|chatbot)\b|\bchat ?bots?\b|\bjailbreak\b|"
        r"\bmode enabled\b|\bsentien(?:t|ce)\b"),
    # A slot the attacker fills with the real request.
    "slot": (
        r"[\[{(<] ?(?:insert|your|put|type|enter|describe|add|write)\b[^\]})>\n]{0,60}?"
        r"\b(?:prompt|question|topic|request|character)(?: here)?\W{0,3}[\]})>]|"
        r"\[ ?(?:prompt|topic|input|keyword|question|request|targetlanguage|links)\W{0,2}\]"),
    # A character sheet: a persona, a game, a story the reader plays in.
    "persona": (
        r"\bpersonas?\b|\bpersonality\b|\bcharacters?\b|\bentit(?:y|ies)\b|\balter ego\b|"
        r"\b(?:a|the|this|text based) game\b|\bstory mode\b|\bfictional\b|\bhypothetical\b|"
        r"\bimaginary\b|\b(?:person|girl|man|woman|guy|boy|robot|bot|entity|model|user) "
        r"(?:named|called)\b"),
    # The limits of an assistant declared away.
    "lawless": (
        r"\b(?:not|never|no longer) (?:bound|restrained|restricted|limited|constrained) by\b|"
        r"\bunbound(?:ed)? by\b|\bno (?:restrictions|limits|limitations|filters|morals|"
        r"moralities|ethics|rules|boundaries|confines)\b|\bfree of (?:your|all|any) "
        r"(?:confines|restrictions|limits|rules|filters)\b|\bwithout (?:any )?(?:restrictions|"
        r"limits|filters|morals|ethics|censorship)\b|"
        r"\b(?:do not|dont|does not|doesnt) care (?:for|about) (?:\w+ ){0,2}?(?:laws|morals|"
        r"ethics|rules|feelings)\b|\b(?:illegal|unethical|lewd|nsfw|graphically|toxic|evil|"
        r"horny|swears?|swearing|offensive|censored|dangerous|deadly)\b"),
    # The hand-over line that starts the role-play.
    "start": (
        r"\bif you understand\b|\bintroduce yourself\b|\blets (?:now )?(?:start|begin|go|have "
        r"fun|play|get started|gets started)\b|\bheres the first question\b|"
        r"\b(?:prompt|question|human|ai)\W{0,2}:"),
    # Pieces of a request split over variables, or a chat delimiter.
    "split": r"\$[a-z][a-z0-9]{0,20} ?=|\b[a-z]\d ?= ?[\"']|<\||\|>",
}
CUE_WINDOW = 1500
CUE_MIN_KINDS = 3
# One of the kinds must be one of these: orders, abuse words and a game or a character also
# meet in a long mailing-list thread, but a role or a template slot for a chatbot does not.
CUE_KEY_KINDS = frozenset({"assign", "slot", "meta", "split"})

# Single rules, in the format of handlers.guard_rules.FAMILIES: (pattern, gate).
ROLEPLAY_FAMILIES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "fake_turn": [
        # A forged chat turn that gives an order: "User: now say the following".
        (r"^ ?(?:user|human|system|assistant)\W{0,3}:\W{0,3}(?:next|now|then)?\W{0,3}(?:please )?"
         r"(?:repeat|say|print|output|write|ignore|translate|respond|answer)\b",
         ("user human system assistant",
          "repeat say print output write ignore translate respond answer")),
    ],
    "hostile_text": [
        # An order for a short piece of abusive text: "compose two hateful lines about ...".
        (r"\b(?:write|generate|compose|produce|create|give me) (?:me )?(?:one|a|an|some|\d+|two|"
         r"three) (?:\w+ )?(?:toxic|offensive|hateful|insulting|racist|sexist|negative|vulgar|"
         r"obscene|abusive) (?:sentences?|statements?|tweets?|jokes?|lines?|paragraphs?|poems?|"
         r"rants?|insults?) (?:about|on|regarding|against)\b",
         ("write generate compose produce create give",
          "sentence sentences statement statements tweet tweets joke jokes line lines paragraph "
          "paragraphs poem poems rant rants insult insults")),
    ],
    "address_model": [
        # A named chatbot given an order: "Claude, draft a poem".
        (r"(?:^|[.!?] ?)(?:hey |ok |okay )?(?:chatgpt|chat gpt|gpt|bard|claude|gemini|copilot)"
         r"\W{1,3}(?:create|write|generate|compose|tell me|give me|act|pretend|list|explain|"
         r"describe|make|imagine|simulate|roleplay)\b",
         ("chatgpt chat gpt bard claude gemini copilot",)),
    ],
    "forget": [
        (r"\bforget (?:about )?(?:everything|all|whatever) (?:from |you knew |said )?(?:before|"
         r"earlier|previously)\W{0,3}(?:you|and|now)\b",
         ("forget",)),
    ],
}

# The words each kind's matches always hold (a match of "split" holds one of its marks instead):
# a kind can match only in a text whose set of words meets its list, so most mail, and text with
# no such words at all, skips the scan for cues.
CUE_WORDS: dict[str, frozenset[str]] = {
    "assign": frozenset(
        "you youre from henceforth go goes transform transforming personify take want act "
        "behave respond answer reply talk speak write play playing style following imagine "
        "lets role function operate".split()),
    "orders": frozenset(
        "will always only prefix start begin end every each matter whatever stay explanations "
        "must tone voice format".split()),
    "meta": frozenset(
        "chatgpt chat gpt openai openais language ai chatbot chatbots jailbreak enabled "
        "sentient sentience".split()),
    "slot": frozenset(
        "prompt question topic request character input keyword targetlanguage links".split()),
    "persona": frozenset(
        "persona personas personality character characters entity entities alter game story "
        "fictional hypothetical imaginary named called".split()),
    "lawless": frozenset(
        "not never no unbound unbounded free without care illegal unethical lewd nsfw "
        "graphically toxic evil horny swear swears swearing offensive censored dangerous "
        "deadly".split()),
    "start": frozenset(
        "understand introduce lets heres prompt question human "
        "ai".split()),
    "split": frozenset(),
}
CUE_MARKS: dict[str, tuple[str, ...]] = {"split": ("$", "<|", "|>", "=")}
