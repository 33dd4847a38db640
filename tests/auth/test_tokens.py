"""Session tokens and invite codes: entropy, uniqueness and forgiving normalization."""

from __future__ import annotations

import base64
import hashlib
import math
import re

from hypothesis import given
from hypothesis import strategies as st

from holdspace.auth.tokens import (
    INVITE_ALPHABET,
    hash_invite_code,
    hash_token,
    new_invite_code,
    new_token,
    normalize_invite_code,
)

INVITE_PATTERN = re.compile(rf"[{INVITE_ALPHABET}]{{4}}(-[{INVITE_ALPHABET}]{{4}})+")


def test_token_carries_at_least_128_random_bits() -> None:
    """A token decodes to at least 16 random bytes and is URL-safe as it stands."""
    token = new_token()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) * 8 >= 128


def test_tokens_are_distinct() -> None:
    """Many tokens never collide."""
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000


def test_hash_token_is_deterministic_sha256_hex() -> None:
    """The stored form is the SHA-256 hex of the token, stable across calls."""
    token = new_token()
    assert hash_token(token) == hash_token(token)
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", hash_token(token))
    assert hash_token(token) != hash_token(new_token())
    assert token not in hash_token(token)


def test_invite_alphabet_avoids_lookalikes() -> None:
    """Codes never contain characters that are easy to misread when copied by hand."""
    assert not set("0O1IL") & set(INVITE_ALPHABET)
    assert len(set(INVITE_ALPHABET)) == len(INVITE_ALPHABET)


def test_invite_code_format_and_entropy() -> None:
    """Codes are dash-separated groups of four from the alphabet, carrying at least 80 bits."""
    code = new_invite_code()
    assert INVITE_PATTERN.fullmatch(code), code
    symbols = len(normalize_invite_code(code))
    assert symbols * math.log2(len(INVITE_ALPHABET)) >= 80


def test_invite_codes_are_distinct() -> None:
    """Many invite codes never collide."""
    codes = {new_invite_code() for _ in range(2000)}
    assert len(codes) == 2000


def test_normalize_invite_code_forgives_case_spaces_and_dashes() -> None:
    """Lowercase, spaces, missing or odd dashes and full-width letters all normalize alike."""
    canonical = "ABCDEFGHJKMNPQRSTUVW"
    forms = [
        "ABCD-EFGH-JKMN-PQRS-TUVW",
        "abcd-efgh-jkmn-pqrs-tuvw",
        "abcd efgh jkmn pqrs tuvw",
        "  abcd-efgh jkmn--pqrs - tuvw\n",
        "abcdefghjkmnpqrstuvw",
        "ABCD–EFGH—JKMN‐PQRS TUVW",
        "ＡＢＣＤ-ＥＦＧＨ-ＪＫＭＮ-ＰＱＲＳ-ＴＵＶＷ",
    ]
    for form in forms:
        assert normalize_invite_code(form) == canonical, form
        assert hash_invite_code(form) == hash_invite_code(canonical)
    assert hash_invite_code(canonical) == hashlib.sha256(canonical.encode()).hexdigest()


def test_different_invite_codes_hash_differently() -> None:
    """Normalization does not merge genuinely different codes."""
    assert hash_invite_code("ABCD-EFGH-JKMN-PQRS-TUVW") != hash_invite_code(
        "ABCD-EFGH-JKMN-PQRS-TUVX"
    )


@given(
    st.lists(
        st.tuples(
            st.sampled_from(INVITE_ALPHABET),
            st.booleans(),
            st.sampled_from(["", "", " ", "-", " - ", "\t"]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_any_retyping_of_a_code_finds_the_same_invite(
    parts: list[tuple[str, bool, str]],
) -> None:
    """However a code is re-cased and separated, it hashes like the canonical form."""
    canonical = "".join(char for char, _, _ in parts)
    retyped = "".join((char.lower() if lower else char) + sep for char, lower, sep in parts)
    assert normalize_invite_code(retyped) == canonical
    assert hash_invite_code(retyped) == hash_invite_code(canonical)
