"""Mending a draft that failed its checks by deleting or correcting the words at fault.

A first draft that fails a check is most often right but for one sentence: the model's stock
sentence ("We're checking the status with the courier") in a reply about an iron, a product
spelt one slip off ("Juniberu humidifier"), thanks for "kind words" nobody wrote, a greeting
without the customer's name, no signature. Sampling the draft again (the pipeline's second try,
``retry_candidates`` samples) costs that many replies' decoding, the dearest work of an email
on a CPU, and its samples fail the same ways often enough. :func:`repair` first makes the edits
a support agent would make:

- a capitalised word one slip off a name or product the analysis found is spelt as found;
- thanks for a "kind message" the email gave no ground for become thanks for the message;
- a small word said twice in a row ("sorry that that the parcel") is said once;
- a clause that brushes the customer off ("; that's all we can say about it") is cut;
- a question for the product the email names loses that part ("which product this is about
  and the order number" asks for the order number), or goes when it asks nothing else; a
  question for the order number goes when the email gives one;
- a promise to check and report back, in reply to praise or thanks that asked nothing, is
  deleted;
- a sentence carrying an invented link, number, name, promise or case, another request's
  answer (``handlers.checks_answer``), a note of what the email never said
  (``handlers.checks_note``), a misplaced condolence, or a near repeat of an earlier
  sentence is deleted; so is a cut last sentence;
- a greeting without the customer's name (or with a wrong one) becomes the fallback's greeting;
- a negative email's missing apology and a missing team signature are added.

It never writes a fact: every word it adds is fixed text or the analysis' own. Drafts wrong as
a whole (the prompt echoed, the customer's voice) are not mended, and neither is one that
would lose more than half its sentences (a loop is a draft to write again, not to cut down).
A mended draft is returned only when it passes every check; else None, and the second try goes
ahead. Pure and bounded like the checks: each pass is linear in the draft (the near-repeat
comparison is capped as in the checks), and the full checks run once more on the result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from handlers import checks
from handlers.checks import (
    _BEREAVEMENT,
    _CONDOLENCE,
    _FACTS,
    _FOLD,
    _GREETING,
    _NON_WORD,
    _SENTENCE_END,
    _SENTENCE_SPLIT,
    _SIGN_OFF,
    _TEAM_SIGNATURE,
    check_draft,
    invented_facts,
    invented_names,
)
from handlers.checks_answer import email_words, misread
from handlers.checks_case import CLAIMS, invented_case
from handlers.checks_claims import invented_commitments
from handlers.checks_needless import (
    FOLLOW_UP,
    KNOWN_ASK,
    ORDER_ASK,
    SECRET_ASK,
    drop_known_asks,
    known_order_asks,
    needless_follow_ups,
    needless_questions,
)
from handlers.checks_note import invented_note
from handlers.checks_spelling import spelling_fixes
from handlers.checks_tone import cut_brush_offs
from handlers.checks_wording import APOLOGY
from handlers.reply import DEFAULT_COMPANY, greeting, team_signature
from handlers.types import EmailText, Entities, Sentiment

# Failures of the whole draft: no deletion makes a draft written as the customer usable.
UNMENDABLE = frozenset({checks.PROMPT_ECHO, checks.CUSTOMER_VOICE, "empty", "engine_request"})
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_SMALL_WORDS = frozenset({"a", "an", "the", "that", "this", "to", "of", "for", "and", "or", "in",
                          "on", "at", "with", "is", "are", "it", "we", "i", "you", "your", "our",
                          "be", "has", "have", "will", "can", "as", "by", "if", "so"})
# "the kind words" → "your message"; "your kind note" → "your note".
_KIND_WORDS = re.compile(r"\b(?:the|your) kind words?\b", re.IGNORECASE)
_KIND_THING = re.compile(r"\b(?:the|your) kind (message|note|feedback|review|comments?)\b",
                         re.IGNORECASE)


def repair(body: str, failed: Sequence[str], email: EmailText, sentiment: Sentiment,
           entities: Entities, *, allowed_domains: Iterable[str] = (),
           company: str = DEFAULT_COMPANY) -> str | None:
    """``body`` (which failed ``failed``) mended so that it passes every check of
    :func:`handlers.checks.check_draft` with the same arguments, or None."""
    if not body.strip() or UNMENDABLE.intersection(failed):
        return None
    allowed_domains = tuple(allowed_domains)
    draft = body.translate(_FOLD)
    source = f"{email.subject}\n{email.body}".translate(_FOLD)
    for wrong, right in spelling_fixes(draft, entities).items():
        draft = re.sub(rf"\b{re.escape(wrong)}\b", right, draft)
    draft = drop_known_asks(cut_brush_offs(_undouble(draft)), entities)
    if "praise" in invented_case(_FACTS.sub(" ", draft), source):
        draft = _KIND_THING.sub(r"your \1", _KIND_WORDS.sub("your message", draft))

    # Paragraphs, their lines unwrapped: a sentence the model wrapped as mail is wrapped must
    # not read as two sentences, nor come out as two paragraphs.
    blocks = [lines for lines in ([line.strip() for line in block.splitlines() if line.strip()]
                                  for block in _BLANK_LINE.split(draft)) if lines]
    if not blocks:
        return None
    opening = blocks[0].pop(0) if _GREETING.match(blocks[0][0]) else None
    closing = _closing(blocks[-1])
    lines = [" ".join(block) for block in blocks if block]
    names = invented_names(draft, f"{source}\n{company}")
    needless = [pattern for pattern, found in (
        (FOLLOW_UP, needless_follow_ups(draft, source, sentiment)),
        (KNOWN_ASK, needless_questions(draft, entities)),
        (SECRET_ASK, SECRET_ASK.findall(draft)),
        (ORDER_ASK, known_order_asks(draft, source))) if found]
    kept = _keep(lines, draft, source, allowed_domains, names, needless)
    if kept and kept[-1] and not _SENTENCE_END.search(kept[-1][-1]):
        kept[-1].pop()  # cut off at the token bound
    paragraphs = [" ".join(sentences) for sentences in kept if sentences]
    said = sum(len(_SENTENCE_SPLIT.split(line)) for line in lines)
    if not paragraphs or 2 * sum(map(len, kept)) < said:
        return None  # most of it is at fault (a loop, say): a new draft, not what is left
    if (opening is None or checks.GREETING_NAME in failed
            or any(re.search(rf"\b{re.escape(n)}\b", opening) for n in names)):
        opening = greeting(email, entities)
    if sentiment == "negative" and not checks._APOLOGY.search(" ".join(paragraphs)):
        paragraphs[0] = f"{APOLOGY} {paragraphs[0]}"
    sign_off = closing[0] if closing and _SIGN_OFF.match(closing[0]) else "Best regards,"
    mended = "\n\n".join([opening, *paragraphs, f"{sign_off}\n{team_signature(company)}"])
    if check_draft(mended, email, sentiment, entities, allowed_domains=allowed_domains,
                   company=company):
        return None
    return mended


def _undouble(text: str) -> str:
    """``text`` with a small word said twice in a row, on one line, said once ("that that"):
    a slip an agent mends. A doubled longer word ("missvely missvely") is a draft gone wrong,
    left for the checks to reject."""
    parts: list[str] = []
    done = 0
    last: re.Match[str] | None = None
    for word in _WORD.finditer(text):
        if (last is not None and word.group(0).casefold() == last.group(0).casefold()
                and word.group(0).casefold() in _SMALL_WORDS
                and not text[last.end():word.start()].strip(" \t")):
            parts.append(text[done:last.end()])
            done = word.end()
        last = word
    parts.append(text[done:])
    return "".join(parts)


def _closing(lines: list[str]) -> list[str]:
    """Takes the sign-off block off the end of ``lines`` and returns it: a team signature, the
    sign-off word above it, or a short signer's name under a sign-off word."""
    closing: list[str] = []
    short = len(lines[-1].split()) <= checks.SIGNATURE_MAX_WORDS if lines else False
    if lines and short and (_TEAM_SIGNATURE.match(lines[-1])
                            or (len(lines) >= 2 and _SIGN_OFF.match(lines[-2])
                                and not _SENTENCE_END.search(lines[-1]))):
        closing.insert(0, lines.pop())
    if lines and _SIGN_OFF.match(lines[-1]):
        closing.insert(0, lines.pop())
    return closing


def _keep(lines: list[str], draft: str, source: str, allowed_domains: tuple[str, ...],
          invented: list[str], needless: list[re.Pattern[str]]) -> list[list[str]]:
    """The sentences of each paragraph that carry no invented fact, name (``invented``),
    promise or case, no misplaced condolence, match none of ``needless`` and repeat no
    earlier sentence."""
    facts = invented_facts(draft, source, allowed_domains=allowed_domains)
    names = [re.compile(rf"\b{re.escape(n)}\b") for n in dict.fromkeys(invented)]
    promises = invented_commitments(draft, source)
    claims = [CLAIMS[kind] for kind in invented_case(_FACTS.sub(" ", draft), source)]
    grief = not _BEREAVEMENT.search(source)
    email_said = email_words(source)  # not ``words``: that is each sentence's, below
    seen: list[frozenset[str]] = []
    runs: set[tuple[str, ...]] = set()  # every RUN_WORDS words said so far
    kept: list[list[str]] = []
    for line in lines:
        sentences = []
        for sentence in _SENTENCE_SPLIT.split(line):
            plain = _FACTS.sub(" ", sentence)
            if (any(fact in sentence for fact in facts)
                    or any(name.search(sentence) for name in names)
                    or any(promise in sentence for promise in promises)
                    or any(claim.search(plain) for claim in claims)
                    or any(pattern.search(sentence) for pattern in needless)
                    or (grief and _CONDOLENCE.search(sentence))
                    or misread(sentence, source, email_said)
                    or invented_note(sentence, source, email_said)):
                continue
            said = _NON_WORD.sub(" ", sentence.casefold()).split()
            words = frozenset(said)
            own = {tuple(said[i : i + checks.RUN_WORDS])
                   for i in range(len(said) - checks.RUN_WORDS + 1)}
            if own & runs or (len(words) > checks.SHORT_SEGMENT_WORDS and any(
                    checks._jaccard(words, other) >= checks.NEAR_SIMILARITY
                    for other in seen[: checks.NEAR_MAX_SENTENCES])):
                continue
            seen.append(words)
            runs |= own
            sentences.append(sentence)
        kept.append(sentences)
    return kept
