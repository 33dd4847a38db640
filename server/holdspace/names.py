"""Deciding whether a display name imitates staff.

Members choose their own names, and a name is all that others see of who is speaking.
A member once signed up as "Robin (facilitator)" and was taken for the real facilitator.
So a member's name may not claim a role ("Moderator Sam"), nor look like the name of a
facilitator of their group ("R0BIN" beside "Robin") once both are read on a small screen.

Looking alike is decided on a comparison key (:func:`name_key`): case, accents, spacing,
punctuation and emoji are dropped, and every character is replaced by a representative of
the characters Unicode lists as confusable with it (UTS #39 ``confusables.txt``, shipped
bidirectionally by ``confusable_homoglyphs``). Everything here is pure; the confusables
table is read on first use, not at import, so modules that never check a name don't pay.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import unicodedata
from collections.abc import Iterable

from holdspace.errors import Code, InvalidInput

#: Words that suggest a role in a group, by language. A name is refused when one of its
#: words, or a run of its words ("Support Team", "M o d"), reads as one of these.
RESERVED: dict[str, tuple[str, ...]] = {
    "en": (
        "facilitator",
        "cofacilitator",
        "moderator",
        "mod",
        "admin",
        "administrator",
        "staff",
        "host",
        "organiser",
        "organizer",
        "official",
        "holdspace",
        "team",
        "system",
        "support team",
    ),
}

#: Reserved words also refused at the very start or end of a name written as one word
#: ("robinfacilitator", "ADMINROBIN"). Only words long and distinctive enough that no
#: ordinary name starts or ends with them: "Hostess", "Modesty" and "Staffordshire" stay.
RESERVED_ATTACHED: dict[str, tuple[str, ...]] = {
    "en": (
        "facilitator",
        "cofacilitator",
        "moderator",
        "administrator",
        "admin",
        "holdspace",
        "official",
        "organiser",
        "organizer",
    ),
}

ROLE_MESSAGE = (
    "Names can't suggest a role in the group, such as facilitator or moderator: everyone "
    "sees each person's role beside their name. Please choose another name."
)

# Left-to-right and right-to-left marks that the confusables data wraps around some
# right-to-left characters; they are not part of the characters themselves.
_DIRECTION_MARKS = str.maketrans("", "", "\u200e\u200f")
# Mapping can produce characters that casefolding or normalization change again, and so
# on; no code point changes more than 3 times (measured over all of Unicode), so this
# bound is never reached by real text and only guarantees that the loop ends.
_MAX_PASSES = 8


def name_key(name: str) -> str:
    """The key under which names that look alike on a phone are equal.

    Only letters and digits survive, lowercased and replaced by their confusable
    representative, so the key is for comparing, never for showing. Idempotent:
    ``name_key(name_key(s)) == name_key(s)``. Empty when the name has no letter or digit.
    """
    skeleton = _skeleton()
    for _ in range(_MAX_PASSES):
        mapped = "".join(skeleton.get(char, char) for char in _fold(name))
        if mapped == name:
            break
        name = mapped
    return "".join(char for char in name if unicodedata.category(char)[0] in "LN")


def imitates(name: str, other: str) -> bool:
    """Whether the two names look alike (symmetric; a name without letters imitates none)."""
    key = name_key(name)
    return bool(key) and key == name_key(other)


def reserved_refusal(name: str) -> InvalidInput | None:
    """Why a member may not be known by ``name`` because it claims a role, or None.

    Facilitators' own names are not checked here: their role is shown beside them anyway.
    """
    words = [name_key(word) for word in _words(name)]
    reserved, attached = _reserved_keys()
    runs = {"".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}
    whole = name_key(name)
    if runs & reserved or any(whole.startswith(k) or whole.endswith(k) for k in attached):
        return InvalidInput(ROLE_MESSAGE, code=Code.NAME_RESERVED, field="display_name")
    return None


def imitation_refusal(name: str, others: Iterable[str]) -> InvalidInput | None:
    """Why a member may not be known by ``name`` because it looks like one of ``others``
    (the names of the facilitators of a group the member is in), or None."""
    key = name_key(name)
    if not key:
        return None
    for other in others:
        if name_key(other) == key:
            return InvalidInput(
                f"This name looks too much like {other}, who facilitates your group. "
                "Please choose another, so nobody is unsure who is speaking.",
                code=Code.NAME_CONFUSABLE,
                field="display_name",
                facilitator=other,
            )
    return None


def _fold(text: str) -> str:
    """Compatibility forms, case and accents removed: "Ｒｏｂíｎ" folds to "robin"."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(
        char
        for char in unicodedata.normalize("NFD", text)
        if unicodedata.category(char) not in ("Mn", "Me")
    )


def _words(name: str) -> list[str]:
    """The words of a name as typed: split on whatever is not a letter or digit, and
    where case changes inside a word ("RobinFacilitator", "MODRobin")."""
    words: list[str] = []
    word = ""
    previous = ""  # category of the word's last letter or digit; marks don't count
    for i, char in enumerate(name):
        category = unicodedata.category(char)
        if category[0] == "M":
            word += char
            continue
        if category[0] not in "LN":
            words.append(word)
            word, previous = "", ""
            continue
        if word and _case_boundary(previous, category, name[i + 1 : i + 2]):
            words.append(word)
            word = ""
        word += char
        previous = category
    words.append(word)
    return [word for word in words if word]


def _case_boundary(previous: str, category: str, following: str) -> bool:
    """A new word starts at an upper-case letter after a lower-case one ("robinFac"), or
    at the last capital of a run that a lower-case letter follows ("MODRobin")."""
    if category not in ("Lu", "Lt"):
        return False
    if previous == "Ll":
        return True
    return previous in ("Lu", "Lt") and bool(following) and unicodedata.category(following) == "Ll"


@functools.cache
def _reserved_keys() -> tuple[frozenset[str], tuple[str, ...]]:
    """Keys of the reserved words of every language, and of those refused when attached.

    Every language's words are checked whatever the member's language: a group is
    read by all of its members."""
    reserved = frozenset(name_key(word) for words in RESERVED.values() for word in words)
    attached = tuple(name_key(word) for words in RESERVED_ATTACHED.values() for word in words)
    return reserved, attached


@functools.cache
def _skeleton() -> dict[str, str]:
    """Each confusable character mapped to the representative of its look-alikes.

    The shipped table lists every pair of ``confusables.txt`` in both directions, so the
    direction is recovered: a character listed with a multi-character prototype maps to
    that prototype ("m" to "rn"); single characters form stars around their prototype,
    and each star maps to its centre (the member with the most look-alikes, then the
    lowest code point), which is deterministic whether or not it is the real prototype.
    """
    source = importlib.resources.files("confusable_homoglyphs") / "confusables.json"
    table: dict[str, list[dict[str, str]]] = json.loads(source.read_text(encoding="utf-8"))
    skeleton: dict[str, str] = {}
    neighbours: dict[str, set[str]] = {}
    parent: dict[str, str] = {}

    def root(char: str) -> str:
        while parent[char] != char:
            parent[char] = parent[parent[char]]
            char = parent[char]
        return char

    for key, entries in table.items():
        char = key.translate(_DIRECTION_MARKS)
        if len(char) != 1:
            continue  # a multi-character prototype: its sources list it themselves
        for entry in entries:
            alike = entry["c"].translate(_DIRECTION_MARKS)
            if len(alike) > 1:
                skeleton[char] = alike
                continue
            for node in (char, alike):
                parent.setdefault(node, node)
                neighbours.setdefault(node, set())
            neighbours[char].add(alike)
            neighbours[alike].add(char)
            parent[root(char)] = root(alike)

    stars: dict[str, list[str]] = {}
    for node in parent:
        stars.setdefault(root(node), []).append(node)
    for members in stars.values():
        centre = max(members, key=lambda node: (len(neighbours[node]), -ord(node)))
        skeleton.update((node, centre) for node in members if node != centre)
    # Keys are made after casefolding, which turns a capital I (a look-alike of l, 1 and |
    # in the sans-serif fonts of phones) into an i: so i joins l's look-alikes too, and
    # "ROB1N" and "ROBlN" read like "Robin".
    i, ell = skeleton.get("i", "i"), skeleton.get("l", "l")
    for node, centre in list(skeleton.items()):
        if centre == i:
            skeleton[node] = ell
    skeleton[i] = ell
    return skeleton
