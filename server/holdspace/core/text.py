"""Cleaning what members type, at the input boundary.

Messages are plain text end to end: clients render them as text, never HTML.
Cleaning still strips markup so that no stored or relayed message ever carries
it, without double escaping: what the member typed, minus tags, is what others
read. bleach is slow (~13 ms for 4 KB), so its parser only runs when the text
contains something that can open a tag (``<`` and a letter, ``!``, ``/`` or ``?``).
"""

from __future__ import annotations

import html
import re
import unicodedata

import bleach

from holdspace.errors import InvalidInput

MAX_MESSAGE_CHARS = 2000
MAX_NAME_CHARS = 40

# C0/C1 controls, DEL, and invisible formatting characters that can hide or reorder
# text (bidi overrides and isolates, zero-width joiners used for spoofing). Newline
# and tab survive in messages. Also lone surrogates: a JSON escape can make one, and
# it can't be sent on as UTF-8.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff"
    r"\ud800-\udfff]"
)
_BLANK_RUN = re.compile(r"\n{3,}")
# bleach escapes ``&``; a code point that cannot survive cleaning keeps the member's own
# ampersands apart from the ones bleach writes.
_AMP = "\ue000"


# Removing a tag can join its neighbours into a new one (``<<b>i>`` leaves ``<i>``), so
# stripping repeats until nothing changes — a few times at most: each pass is a full
# parse, and markup nested deeper than that is not conversation.
_PASSES = 3
# What can open a tag, a comment or a declaration in HTML: without one of these, the
# parser would change nothing ("I <3 you", "a < b"), so it isn't run.
_OPENER = re.compile(r"<[A-Za-z!/?]")


def strip_markup(text: str) -> str:
    """Remove tags and comments; leave every other character exactly as typed. The
    result is a fixed point: stripping it again changes nothing."""
    for _ in range(_PASSES):
        if not _OPENER.search(text):
            return text
        cleaned = _strip_once(text)
        if cleaned == text:
            return text
        text = cleaned
    return text.replace("<", "")  # still nested after a few passes: no brackets left


def _strip_once(text: str) -> str:
    protected = text.replace(_AMP, "\ufffd").replace("&", _AMP)
    cleaned = bleach.clean(protected, tags=set(), attributes={}, strip=True, strip_comments=True)
    # bleach escaped <, > and " in what was left; those are the only entities now present.
    return html.unescape(cleaned).replace(_AMP, "&")


def clean_message(text: str, *, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Normalize a message for the room, or raise :class:`InvalidInput`."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text.replace("\t", "    "))
    text = strip_markup(text)
    text = _BLANK_RUN.sub("\n\n", text).strip()
    if not text:
        raise InvalidInput("There's nothing to send.", code="empty")
    if len(text) > limit:
        raise InvalidInput(
            f"Messages can be up to {limit} characters; this one has {len(text)}.",
            code="too_long",
            limit=limit,
        )
    return text


def clean_name(name: str, *, limit: int = MAX_NAME_CHARS) -> str:
    """Normalize a display name (a pseudonym): one line, no markup, not blank."""
    name = unicodedata.normalize("NFC", name)
    name = _CONTROL.sub("", name.replace("\n", " ").replace("\t", " "))
    name = " ".join(strip_markup(name).split())
    if not name:
        raise InvalidInput("Please choose a name to be known by.", code="invalid_name")
    if len(name) > limit:
        raise InvalidInput(f"Names can be up to {limit} characters.", code="invalid_name")
    return name


def clean_short(text: str | None, *, limit: int, field: str) -> str | None:
    """Clean an optional short note (a pause message, a reason)."""
    if text is None:
        return None
    text = " ".join(strip_markup(_CONTROL.sub("", unicodedata.normalize("NFC", text))).split())
    if len(text) > limit:
        raise InvalidInput(
            f"The {field} can be up to {limit} characters.",
            code="too_long",
            field=field,
            limit=limit,
        )
    return text or None
