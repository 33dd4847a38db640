"""Opaque session tokens and invite codes; only their hashes are ever stored.

Both are random with enough entropy that guessing is hopeless, so a single fast
SHA-256 is the right hash: a slow password hash buys nothing against a 2^128 search,
and would put argon2's cost on every authenticated request. A leaked table of these
hashes still cannot be turned back into working tokens or codes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from typing import Final

__all__ = [
    "INVITE_ALPHABET",
    "INVITE_GROUPS",
    "INVITE_GROUP_SIZE",
    "TOKEN_BYTES",
    "device_key",
    "every_device_key",
    "hash_invite_code",
    "hash_token",
    "new_invite_code",
    "new_token",
    "normalize_invite_code",
]

TOKEN_BYTES: Final = 32

# No 0/O, 1/I/L: codes get read aloud, written down and retyped.
INVITE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITE_GROUP_SIZE: Final = 4
# 31 symbols carry ~4.95 bits each: 5 groups of 4 give ~99 bits (4 groups would be < 80).
INVITE_GROUPS: Final = 5

# Spaces, hyphens and the dashes phones and word processors substitute for them.
_SEPARATORS = re.compile(r"[\s\-_\u2010-\u2015\u2212]+")


def new_token() -> str:
    """256 random bits, URL-safe: a session or resume token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """SHA-256 hex: tokens are high-entropy, so a fast hash is safe and keeps lookups cheap."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def device_key(token: str) -> str:
    """The name of the sign-in ``token`` in live sessions, where a sign-out is addressed
    to it (see :class:`holdspace.core.events.SignedOut`): 64 bits of a digest that is not
    the stored one, so it can neither be used nor looked up as a token."""
    return "d:" + hashlib.sha256(b"holdspace-device:" + token.encode("utf-8")).hexdigest()[:16]


def every_device_key(user_id: str) -> str:
    """The name of all of ``user_id``'s sign-ins at once (a password change ends them all)."""
    return "d:*" + user_id


def new_invite_code() -> str:
    """A code people can read out and retype, e.g. ``K7QM-2XWD-R9TA-HJ4P-N3BE``."""
    groups = (
        "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_GROUP_SIZE))
        for _ in range(INVITE_GROUPS)
    )
    return "-".join(groups)


def normalize_invite_code(code: str) -> str:
    """Forgive how a code was typed or pasted: case, spaces, dashes, full-width forms."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", code)).upper()


def hash_invite_code(code: str) -> str:
    """Hash of the normalized code, so every way of typing it finds the same invite."""
    return hashlib.sha256(normalize_invite_code(code).encode("utf-8")).hexdigest()
