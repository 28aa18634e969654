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


# The pipeline quotes an email for sentiment and then at once for entities: a cache of two is
# enough for that, and holds at most two emails (bodies may be up to max_body_bytes each).
@functools.lru_cache(maxsize=2)
def quote_email(email: EmailText, max_chars: int = MAX_PROMPT_CHARS) -> str:
    """The email's subject and body inside delimiters, cut to ``max_chars`` characters."""
    text = f"Subject: {email.subject}\n\n{email.body}" if email.subject else email.body
    text = _TAGS.sub("[tag]", text.strip())[:max_chars]
    return f"{OPEN}\n{text}\n{CLOSE}"


def quote_text(text: str, max_chars: int = MAX_PROMPT_CHARS) -> str:
    """Any other untrusted text (a draft to rewrite) inside the same delimiters."""
    return f"{OPEN}\n{_TAGS.sub('[tag]', text.strip())[:max_chars]}\n{CLOSE}"
