"""The rules of `normalise_name`, the one form every tag name takes (db/tags.py)."""

from __future__ import annotations

import pytest

from db.tags import normalise_name


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("python", "python"),
        ("Python", "python"),
        ("  SQL  ", "sql"),
        ("\tnews\n", "news"),
        ("\u00a0nbsp\u3000", "nbsp"),
        ("ÉTÉ", "été"),
        ("Machine  Learning", "machine  learning"),
        ("C++", "c++"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_names_are_trimmed_and_lower_cased(given: str, stored: str) -> None:
    assert normalise_name(given) == stored


def test_lower_case_is_not_case_folding() -> None:
    # Stored tags were made with lower(); case folding would split "straße" from itself.
    assert normalise_name("Straße") == "straße"


@pytest.mark.parametrize("given", ["  Mixed Case ", "ÉTÉ", "straße", "\u00a0x\u00a0"])
def test_a_normalised_name_stays_as_it_is(given: str) -> None:
    once = normalise_name(given)
    assert normalise_name(once) == once
