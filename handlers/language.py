"""The language an email's new text is written in, offline and deterministic (py3langid).

The model (a naive Bayes over byte n-grams, 4.5 MB compressed) loads once, lazily, on the first
call (about half a second); a call after that takes well under a millisecond, since only the
first ``MAX_CHARS`` characters are classified.
"""

from __future__ import annotations

import threading
from typing import Any

ENGLISH = "en"
UNDETERMINED = "und"
MAX_CHARS = 2_000
MIN_LETTERS = 20  # fewer letters than this: "und" (Han, kana and Hangul letters count double)
# py3langid labels without an ISO 639-1 code of their own, mapped to their macrolanguage's.
_TO_ISO_639_1 = {"arz": "ar", "ary": "ar", "uzs": "uz", "yue": "zh", "wuu": "zh", "gug": "gn",
                 "kik": "ki", "fuv": "ff", "sdh": "ku"}
_NO_LANGUAGE = "zxx"  # py3langid's "no linguistic content"

_lock = threading.Lock()
_identifier: Any = None


def _model() -> Any:
    """The py3langid identifier with normalised probabilities, loaded once."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def _letter_weight(text: str) -> int:
    """Letters in ``text``; a CJK ideograph, kana or Hangul syllable counts as two."""
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in text if ch.isalpha())


def detect_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, confidence 0..1) of ``text``; ("und", 0.0) for too little text.

    Codes the model has with no ISO 639-1 equivalent (e.g. "ace", "grc") come back as the
    model's ISO 639-3 code."""
    sample = text[:MAX_CHARS]
    if _letter_weight(sample) < MIN_LETTERS:
        return UNDETERMINED, 0.0
    code, confidence = _model().classify(sample)
    if code == _NO_LANGUAGE:
        return UNDETERMINED, 0.0
    return _TO_ISO_639_1.get(code, code), min(1.0, max(0.0, float(confidence)))
