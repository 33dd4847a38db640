"""Display names that imitate staff: look-alike keys, role words and facilitators' names."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from holdspace.names import (
    RESERVED,
    RESERVED_ATTACHED,
    _skeleton,
    imitates,
    imitation_refusal,
    name_key,
    reserved_refusal,
)


@pytest.mark.parametrize(
    "alike",
    [
        "Robin",
        "R0BIN",
        "R\u043ebin",  # Cyrillic о
        "Robín",
        "Robi\u0301n",  # the same accent, decomposed
        "robin.",
        "R o b i n",
        "Ｒｏｂｉｎ",  # fullwidth
        "Robin 🌱",
        "Rob\u200bin",  # zero-width space
    ],
)
def test_names_that_look_alike_share_a_key(alike: str) -> None:
    """Case, accents, spacing, punctuation, emoji and look-alike letters don't tell names apart."""
    assert name_key(alike) == name_key("Robin")


@pytest.mark.parametrize(("name", "other"), [("Robin", "Robyn"), ("Robin", "Robin K")])
def test_names_that_differ_keep_different_keys(name: str, other: str) -> None:
    """A different letter, or one more, is a different name."""
    assert name_key(name) != name_key(other)


@pytest.mark.parametrize(
    "group", [("0", "O"), ("l", "I", "1", "|"), ("\u043e", "o"), ("\u0456", "i")]
)
def test_confusable_characters_share_a_representative(group: tuple[str, ...]) -> None:
    """The table recovered from the bidirectional data puts look-alikes together."""
    skeleton = _skeleton()
    assert len({skeleton.get(char, char) for char in group}) == 1


def test_multi_character_prototypes_are_kept() -> None:
    """A character that looks like several maps to all of them: "m" reads as "rn"."""
    assert _skeleton()["m"] == "rn"
    assert name_key("Kim") == name_key("Kirn")


@pytest.mark.parametrize("name", ["", " ", "🌱🌱", "...", "\u200b"])
def test_names_without_letters_have_an_empty_key(name: str) -> None:
    """Nothing to compare is an empty key."""
    assert name_key(name) == ""


@given(st.text())
def test_name_key_is_a_fixed_point(text: str) -> None:
    """Keying a key changes nothing, so keys can be stored and compared again."""
    key = name_key(text)
    assert name_key(key) == key


@pytest.mark.parametrize(
    ("name", "other", "alike"),
    [
        ("Robin", "R0BIN", True),
        ("R\u043ebin", "robin.", True),
        ("Robin", "Robyn", False),
        ("Robin", "Robin K", False),
        ("", "", False),
        ("🌱", "🌿", False),
        ("", "Robin", False),
    ],
)
def test_imitates_is_symmetric(name: str, other: str, alike: bool) -> None:
    """Imitation works both ways, and a name with no letters imitates nobody."""
    assert imitates(name, other) is alike
    assert imitates(other, name) is alike


@pytest.mark.parametrize(
    "name",
    [
        "Fac\u0456litator",  # Cyrillic і
        "ADMIN",
        "Mod_Robin",
        "Robin (facilitator)",
        "robin-the-moderator",
        "RobinFacilitator",
        "facilitatorRobin",
        "robinfacilitator",
        "Co-facilitator Sam",
        "Cofacilitator Sam",
        "Holdspace Team",
        "Support Team",
        "staff",
        "Host",
        "Official Robin",
        "Organizer",
        "organiser",
        "System",
        "MODRobin",
        "S T A F F",
        "Ｍｏｄ",  # fullwidth
    ],
)
def test_names_that_claim_a_role_are_refused(name: str) -> None:
    """A word that names a role, however written, can't be a member's name."""
    refused = reserved_refusal(name)
    assert refused is not None
    assert refused.code == "name_reserved"
    assert refused.detail == {"field": "display_name"}
    assert "facilitator or moderator" in refused.message


@pytest.mark.parametrize(
    "name",
    [
        "Robin",
        "Kim",
        "Badminton fan",
        "Sam",
        "Hostess",
        "Modesty",
        "Teamwork Tom",
        "Alex Support",
        "Support",
        "",
    ],
)
def test_ordinary_names_are_allowed(name: str) -> None:
    """A role word inside an ordinary word, or "support" alone, is no claim to a role."""
    assert reserved_refusal(name) is None


def test_reserved_words_are_data_by_language() -> None:
    """Role words are kept per language, and the attached ones are also whole role words."""
    assert "en" in RESERVED
    for language, attached in RESERVED_ATTACHED.items():
        assert set(attached) <= set(RESERVED[language])
        assert all(len(word) >= 5 for word in attached)


@pytest.mark.parametrize(
    ("name", "facilitators", "imitated"),
    [
        ("R0BIN", ["Kim", "Robin"], "Robin"),
        ("R\u043ebin", ["Robin"], "Robin"),
        ("kirn", ["Kim"], "Kim"),
        ("Robin", ["Robin", "Robín"], "Robin"),
    ],
)
def test_names_like_a_facilitators_are_refused(
    name: str, facilitators: list[str], imitated: str
) -> None:
    """A member can't take a name that reads as one of their group's facilitators."""
    refused = imitation_refusal(name, facilitators)
    assert refused is not None
    assert refused.code == "name_confusable"
    assert refused.detail == {"field": "display_name", "facilitator": imitated}
    assert refused.message == (
        f"This name looks too much like {imitated}, who facilitates your group. "
        "Please choose another, so nobody is unsure who is speaking."
    )


@pytest.mark.parametrize(
    ("name", "facilitators"),
    [("Robyn", ["Robin"]), ("Robin K", ["Robin"]), ("Sam", []), ("🌱", ["🌿"]), ("", [""])],
)
def test_names_unlike_every_facilitator_are_allowed(name: str, facilitators: list[str]) -> None:
    """Names that merely resemble a facilitator's, or have no letters, are allowed."""
    assert imitation_refusal(name, iter(facilitators)) is None


def test_the_confusables_table_is_not_read_at_import() -> None:
    """Importing the module leaves the table unread, so start-up doesn't pay for it."""
    probe = (
        "import sys, holdspace.names as n; "
        "print(n._skeleton.cache_info().currsize, 'confusable_homoglyphs' in sys.modules)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert shown.stdout.split() == ["0", "False"]
