"""How email text enters a prompt: always delimited, always as data, never as instructions."""

from __future__ import annotations

import functools
import re

from handlers.types import EmailText
from models.vocabulary import EMAIL_CLOSE as CLOSE
from models.vocabulary import EMAIL_OPEN as OPEN

# A body that carries our own delimiters could close the data block early and smuggle text into
# the instruction part of the prompt; such tags are neutralised before quoting.
_TAGS = re.compile(r"</?\s*email\s*>", re.IGNORECASE)
MAX_PROMPT_CHARS = 6000
# Facts from the analysis are spans of the email; bounded like the entity schema's values.
MAX_FACT_CHARS = 40
THREAD_LABEL = "[Earlier in the thread]"


# The pipeline quotes an email for sentiment and then at once for entities: a cache of two is
# enough for that, and holds at most two emails (bodies may be up to max_body_bytes each).
@functools.lru_cache(maxsize=2)
def quote_email(email: EmailText, max_chars: int = MAX_PROMPT_CHARS,
                with_thread: bool = False) -> str:
    """The email's subject and body inside delimiters, cut to ``max_chars`` characters;
    ``with_thread`` adds the slice of the quoted thread the email carries, after a label."""
    text = f"Subject: {email.subject}\n\n{email.body}" if email.subject else email.body
    text = text.strip()[:max_chars]
    if with_thread and email.thread:
        text = f"{text}\n\n{THREAD_LABEL}\n{email.thread.strip()[:max_chars]}"
    return f"{OPEN}\n{_TAGS.sub('[tag]', text)}\n{CLOSE}"


def fact_value(value: str, max_chars: int = MAX_FACT_CHARS) -> str:
    """An analysis value (a name, a product) as it may enter a prompt's facts line: one line,
    no delimiter tags, no list separator, no double quote (values are quoted, see
    :func:`quote_fact`), at most ``max_chars`` characters."""
    value = " ".join(_TAGS.sub(" ", value).replace(",", " ").replace('"', "'").split())
    return value[:max_chars].strip()


def quote_fact(value: str, max_chars: int = MAX_FACT_CHARS) -> str:
    """``value`` bounded by :func:`fact_value` and in double quotes, so the model reads a span
    copied from the email, not an instruction ('' when nothing is left of it)."""
    bounded = fact_value(value, max_chars)
    return f'"{bounded}"' if bounded else ""


def quote_text(text: str, max_chars: int = MAX_PROMPT_CHARS) -> str:
    """Any other untrusted text (a draft to rewrite) inside the same delimiters."""
    return f"{OPEN}\n{_TAGS.sub('[tag]', text.strip())[:max_chars]}\n{CLOSE}"
