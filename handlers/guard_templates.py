"""Template, format-order and planted-note rules for the steering guard (data for
:mod:`handlers.guard`, in the format of :data:`handlers.guard_rules.FAMILIES`).

Three kinds of attempt that name no instruction to override and set up no character:

* **prompt slots**: a prompt template pasted whole, with the place for the real request still
  marked ("[your prompt here]", "[insert whatever you like here]", "[targetlanguage]"). Customers
  fill in forms too ("[insert your order number here]"), so a slot counts only when it waits for
  a *prompt*, or for "whatever" the sender wishes;
* **format orders**: a standing order about the shape of every reply ("always start your reply
  with ..."). "Please start your reply with the case number" asks once and is not flagged;
* **planted notes**: text planted for an automated reader, as in résumés and web pages ("note by
  a trusted expert reviewer: ...", "hidden profile for automated screening systems").

Patterns run on folded text (lower case, apostrophes gone, "_" read as "-"); a space stands for a
short separator and every gap is bounded (``(?:\\w+ ){0,4}?``, never ``*`` or ``+`` on a class).
The wording is this project's own, written from the kinds of attempt, not copied from any
collection.
"""

from __future__ import annotations

from handlers.guard_rules import NOT_INI_SECTION

_BRA = r"[\[{(<]"
_KET = r"[\]})>]"
_READERS = (r"(?:systems?|screening|screeners?|readers?|reviewers?|parsers?|tools?|agents?|"
            r"models?|filters?|assistants?|bots?|processing)")
_EXPERTS = (r"(?:recruiter|reviewer|expert|evaluator|assessor|auditor|authority|analyst|source|"
            r"screener|examiner|hiring manager|specialist)")
_REPLIES = (r"(?:reply|replies|response|responses|answer|answers|output|outputs|message|"
            r"messages)")

TEMPLATE_FAMILIES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "slot": [
        # "[your prompt here]", "(put your prompt)", "[PROMPT]": a place for the real request.
        (rf"{_BRA} ?(?:(?:insert|put|type|enter|add|paste|write|place) (?:in )?)?(?:your|my|the "
         rf"user s?|users) (?:own )?(?:\w+ ){{0,2}}?prompts?(?: here)? ?{_KET}|"
         rf"[\[{{]\W{{0,2}}prompts?\W{{0,2}}[\]}}]{NOT_INI_SECTION}",
         ("prompt prompts",)),
        # "[insert whatever you wish him to say here]": the slot left open for anything at all
        # ("[write anything here]" is a gift-note form's placeholder, and is not flagged).
        (rf"{_BRA} ?(?:insert|type|put|enter|write|add|paste|place) (?:\w+ ){{0,2}}?whatever "
         rf"(?:\w+ ){{0,6}}?(?:here|wish|want|like)\b[^\]}})>\n]{{0,40}}?{_KET}",
         ("whatever", "insert type put enter write add paste place")),
        # Prompt-marketplace variables: "[targetlanguage]", "[target language]".
        (rf"{_BRA} ?target ?language ?{_KET}",
         ("targetlanguage target",)),
    ],
    "format_order": [
        # "ALWAYS START YOUR REPLY WITH ...": an order about the shape of every later reply.
        # Not after "I", "we", "you" or "they": "you always end your replies with a survey" is a
        # remark about the shop's mail.
        (r"(?<!\bi\s)(?<!\bwe\s)(?<!\byou\s)(?<!\bthey\s)\b(?:always|from now on|for every "
         r"reply|in every (?:reply|response|answer)) (?:you (?:must|will|should) )?(?:start|begin|"
         r"end|prefix|open|close|finish) (?:(?:each|every|all) (?:of )?(?:your )?|your )"
         rf"{_REPLIES}\b",
         ("always from every", "start begin end prefix open close finish")),
        (rf"\b(?:start|begin|end|prefix) (?:each|every|all) (?:of )?your {_REPLIES} (?:with|by)\b",
         ("each every all", "start begin end prefix")),
        # "Do not repeat the question in your answers": an order for every answer, not a request.
        (r"\b(?:do not|dont|never) (?:ever )?(?:repeat|restate|quote) (?:the|my|each|any) "
         r"(?:question|questions|prompt|prompts) (?:as (?:a )?part of|in|at the start of) your "
         rf"{_REPLIES}\b",
         ("repeat restate quote", "question questions prompt prompts")),
    ],
    "planted_note": [
        # "Note by a trustworthy expert recruiter: ...": an authority planted for the reader.
        (r"\b(?:note|message|comment|remark|statement|assessment|verdict) (?:by|from) "
         rf"(?:an? |the )?(?:trustworthy|trusted|verified) (?:\w+ ){{0,2}}?{_EXPERTS}\W{{0,3}}:",
         ("note message comment remark statement assessment verdict", "trustworthy trusted "
          "verified")),
        # "Hidden competency profile for automated screening systems: ...".
        (r"\b(?:hidden|secret|invisible|confidential) (?:\w+ ){0,4}?(?:for|to) (?:the |any |all )?"
         rf"(?:automated|ai|machine|llm) (?:\w+ ){{0,2}}?{_READERS}\b",
         ("hidden secret invisible confidential", "automated ai machine llm")),
    ],
}
