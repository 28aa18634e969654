"""Tests for handlers.language: short support emails in five languages come back with the right
ISO 639-1 code and a confidence in 0..1, too little text is "und", and the model loads once."""

from __future__ import annotations

import time

import pytest

from handlers import language
from handlers.language import ENGLISH, detect_language

EMAILS = {
    "en": "Hello, my order #4411 has not arrived yet. Could you please check where it is? "
          "Thanks, Dana",
    "de": "Hallo, meine Bestellung ist noch nicht angekommen. Können Sie bitte nachsehen, wo sie "
          "bleibt? Viele Grüße",
    "fr": "Bonjour, ma commande n'est toujours pas arrivée. Pourriez-vous vérifier où elle se "
          "trouve ? Merci",
    "es": "Hola, mi pedido todavía no ha llegado. ¿Podrían comprobar dónde está, por favor? "
          "Gracias",
    "ja": "こんにちは。先週注文した商品がまだ届いていません。配送状況を確認していただけますか。",
}


@pytest.mark.parametrize(("code", "text"), EMAILS.items())
def test_support_emails(code: str, text: str) -> None:
    found, confidence = detect_language(text)
    assert found == code
    assert 0.5 < confidence <= 1.0


def test_english_constant() -> None:
    assert ENGLISH == "en"
    assert detect_language(EMAILS["en"])[0] == ENGLISH


@pytest.mark.parametrize("text", ["", "   ", "ok thanks", "12345 678 !!! ???", "https://x.y/1",
                                  "注文"])
def test_too_little_text_is_undetermined(text: str) -> None:
    assert detect_language(text) == ("und", 0.0)


def test_only_the_start_is_classified() -> None:
    text = EMAILS["de"] * 25 + EMAILS["en"] * 200  # German fills the first 2,000 characters
    assert detect_language(text)[0] == "de"


def test_deterministic_and_loaded_once() -> None:
    first = detect_language(EMAILS["fr"])
    model = language._model()
    assert detect_language(EMAILS["fr"]) == first
    assert language._model() is model


def test_one_call_after_load() -> None:
    detect_language(EMAILS["en"])  # loads the model
    calls = 200
    started = time.perf_counter()
    for _ in range(calls):
        detect_language(EMAILS["es"] * 20)  # 2,000 characters classified
    each = (time.perf_counter() - started) / calls
    print(f"detect_language: {each * 1000:.2f} ms per call on 2,000 characters")
    assert detect_language(EMAILS["es"] * 20)[0] == "es"
