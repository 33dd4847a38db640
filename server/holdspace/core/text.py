"""Cleaning what members type, at the input boundary.

Text is plain text end to end: what a member typed is what others read,
``<hugs>`` and ``x<y and y>z`` included. Clients render it as text, never as
HTML, so nothing here escapes or strips markup. Cleaning only takes out what
can hide or reorder text (controls, bidi overrides, zero-width characters, lone
surrogates), normalizes to NFC, and enforces the limits — refusing, never
cutting, what is too long.
"""

from __future__ import annotations

import re
import unicodedata

from holdspace.errors import Code, InvalidInput

MAX_MESSAGE_CHARS = 2000
MAX_WHISPER_CHARS = 500
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


def clean_message(text: str, *, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Normalize a message for the room, or raise :class:`InvalidInput`."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text.replace("\t", "    "))
    text = _BLANK_RUN.sub("\n\n", text).strip()
    if not text:
        raise InvalidInput("There's nothing to send.", code=Code.EMPTY)
    if len(text) > limit:
        raise InvalidInput(
            f"Messages can be up to {limit} characters; this one has {len(text)}.",
            code=Code.TOO_LONG,
            limit=limit,
        )
    return text


def clean_block(text: str) -> str:
    """Normalize a facilitator's longer text (a description, the agreement, crisis
    resources): the same cleaning as a message, without its limit or its blank-line rule."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROL.sub("", text).strip()


def clean_name(name: str, *, limit: int = MAX_NAME_CHARS) -> str:
    """Normalize a display name (a pseudonym): one line, not blank."""
    name = unicodedata.normalize("NFC", name)
    name = _CONTROL.sub("", name.replace("\n", " ").replace("\t", " "))
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("Please choose a name to be known by.", code=Code.INVALID_NAME)
    if len(name) > limit:
        raise InvalidInput(f"Names can be up to {limit} characters.", code=Code.INVALID_NAME)
    return name


def clean_short(text: str | None, *, limit: int, field: str) -> str | None:
    """Clean an optional short note (a pause message, a reason)."""
    if text is None:
        return None
    text = " ".join(_CONTROL.sub("", unicodedata.normalize("NFC", text)).split())
    if len(text) > limit:
        raise InvalidInput(
            f"The {field} can be up to {limit} characters.",
            code=Code.TOO_LONG,
            field=field,
            limit=limit,
        )
    return text or None
