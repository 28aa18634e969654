"""The sender's display name as the first source of the customer's name."""

from __future__ import annotations

import pytest

from handlers.entities import display_name, with_display_name
from handlers.types import Entities


@pytest.mark.parametrize(("raw", "expected"), [
    ("Dana Ross", "Dana Ross"),
    ("Dr. Ama Okafor", "Dr. Ama Okafor"),
    ("Jean-Luc O'Neill", "Jean-Luc O'Neill"),
    ("Zoë  Müller", "Zoë Müller"),
    ('"Kenji"', "Kenji"),
    ("The Motley Fool", None),
    ("Billing Team", None),
    ("Customer Support", None),
    ("noreply", None),
    ("dana@example.org", None),
    ("ACME", None),
    ("User 1234", None),
    ("", None),
    ("A Very Long Display Name Here", None),
    ("Hal DeVore", "Hal DeVore"),
    ("Aric McKeown", "Aric McKeown"),
    ("Theo Van Dinter", "Theo Van Dinter"),
    ("boingboing", None),
    ("ZDNet Tech Update Today", None),
    ("Great Offers", None),
    ("Date.com", None),
    ("Robert Reich For Governor", None),
    ("Vela electric toothbrush", None),
    ("Piccolo espresso machine", None),
    ("Ana de la Cruz", "Ana de la Cruz"),
    ("Ludwig van Beethoven", "Ludwig van Beethoven"),
    ("dana ross", "dana ross"),
    ("John smith", "John smith"),
])
def test_display_names_that_read_as_a_person(raw: str, expected: str | None) -> None:
    assert display_name(raw) == expected


def test_the_display_name_comes_first_and_replaces_its_parts() -> None:
    found = Entities(name=("Dana", "Ana Lima"), product=("kettle",))
    merged = with_display_name(found, "Dana Ross")
    assert merged.name == ("Dana Ross", "Ana Lima")
    assert merged.product == ("kettle",)
    assert with_display_name(found, "Billing Team") == found
    assert with_display_name(Entities(), "") == Entities()


def test_names_that_are_the_sending_organisation_are_dropped() -> None:
    found = Entities(name=("Great Offers", "Mandy"), product=("phone",))
    assert with_display_name(found, "Great Offers").name == ("Mandy",)
    assert with_display_name(Entities(name=("boingboing",)), "boingboing").name == ()


def test_the_fallback_greets_the_display_name_not_an_organisation() -> None:
    from handlers.reply import fallback
    from handlers.types import EmailText

    person = EmailText("<1@x>", "s", "b", from_name="Dana Ross")
    assert fallback(person, "neutral", Entities(name=("Dana Ross", "Ana Lima Costa"))).startswith(
        "Hi Dana,")
    org = EmailText("<2@x>", "s", "b", from_name="ZDNet Tech Update Today")
    found = with_display_name(Entities(name=("ZDNet Tech Update Today",)), org.from_name)
    assert fallback(org, "neutral", found).startswith("Hello,")


def test_names_that_are_no_person_are_not_kept() -> None:
    found = Entities(name=("CNET", "D", "Jesse@RobertReich.org", "Computers4Sure", "Ana Lima"))
    assert with_display_name(found, "").name == ("Ana Lima",)


def test_a_name_also_given_as_a_product_or_a_place_is_no_person() -> None:
    found = Entities(name=("Sage Mill", "Ana Lima", "Porto Alegre"), product=("sage mill",),
                     location=("Porto Alegre",))
    assert with_display_name(found, "").name == ("Ana Lima",)
    assert with_display_name(found, "").product == ("sage mill",)
