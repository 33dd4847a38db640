"""Cleaning what members type: plain text in, the same plain text out, never HTML."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from holdspace.core.text import (
    MAX_MESSAGE_CHARS,
    clean_block,
    clean_message,
    clean_name,
    clean_short,
)
from holdspace.errors import InvalidInput


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("a < b & c > d", "a < b & c > d"),
        ("sending <hugs> to everyone", "sending <hugs> to everyone"),
        ("x<y and y>z", "x<y and y>z"),
        ("<b>bold</b> move", "<b>bold</b> move"),
        ("AT&T &amp; friends", "AT&T &amp; friends"),
        ("x &lt; y", "x &lt; y"),
        ("<3 you all", "<3 you all"),
        ('<a href="javascript:alert(1)">link</a>', '<a href="javascript:alert(1)">link</a>'),
        ("<!-- hidden -->shown", "<!-- hidden -->shown"),
        ("\"quoted\" and 'single'", "\"quoted\" and 'single'"),
        ("caf\u0065\u0301", "caf\u00e9"),  # NFC
        ("line one\r\nline two", "line one\nline two"),
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("hidden\u202eevil", "hiddenevil"),  # bidi override removed
        ("zero\u200bwidth", "zerowidth"),
        ("  padded  ", "padded"),
    ],
)
def test_messages_read_exactly_as_typed(typed: str, read: str) -> None:
    """What looks like markup stays, as text; only what hides or reorders text goes."""
    assert clean_message(typed) == read


@pytest.mark.parametrize(
    ("typed", "code"), [("", "empty"), ("  \n\t ", "empty"), ("\u200b\u202e", "empty")]
)
def test_nothing_to_send_is_refused(typed: str, code: str) -> None:
    """A message that is empty once cleaned is refused with a stable code."""
    with pytest.raises(InvalidInput) as refused:
        clean_message(typed)
    assert refused.value.code == code


def test_length_limit_counts_the_cleaned_text() -> None:
    """The limit applies to what others would read."""
    assert clean_message("x" * MAX_MESSAGE_CHARS) == "x" * MAX_MESSAGE_CHARS
    with pytest.raises(InvalidInput) as refused:
        clean_message("x" * (MAX_MESSAGE_CHARS + 1))
    assert refused.value.code == "too_long"
    assert refused.value.detail["limit"] == MAX_MESSAGE_CHARS


def test_names_are_one_line_as_typed() -> None:
    """Display names keep what was typed but newlines and runs of spaces."""
    assert clean_name("  <i>Sam</i>\n the   brave ") == "<i>Sam</i> the brave"
    with pytest.raises(InvalidInput):
        clean_name(" \u200b ")
    with pytest.raises(InvalidInput):
        clean_name("x" * 41)


def test_a_message_over_the_limit_is_refused_never_cut() -> None:
    """Ten thousand characters are refused whole, with the limit and the length."""
    with pytest.raises(InvalidInput) as refused:
        clean_message("y" * 10_000)
    assert refused.value.code == "too_long"
    assert "10000" in refused.value.message
    assert refused.value.detail == {"limit": MAX_MESSAGE_CHARS}


@given(st.text(max_size=300))
def test_cleaning_is_stable(text: str) -> None:
    """Cleaned text is a fixed point."""
    try:
        once = clean_message(text)
    except InvalidInput:
        return
    assert clean_message(once) == once


@given(st.text(alphabet=st.characters(categories=("L", "N", "P", "S", "Zs")), max_size=200))
def test_printable_text_is_kept_character_for_character(text: str) -> None:
    """Letters, digits, punctuation, symbols (``<``, ``>``, ``&`` included) and spaces are
    never changed, apart from the ends being trimmed and NFC."""
    import unicodedata

    try:
        cleaned = clean_message(text)
    except InvalidInput:
        return
    visible = unicodedata.normalize("NFC", text).strip()
    assert cleaned == "".join(ch for ch in visible if ch not in "\u200b\u200e\u200f\ufeff")


def test_lone_surrogates_are_dropped_everywhere_text_is_cleaned() -> None:
    """A JSON escape can smuggle half a surrogate pair in (through the HTTP API, say); it
    could never be sent on as UTF-8, so it goes. A whole character stays."""
    assert clean_message("a\ud83db \U0001f600") == "ab \U0001f600"
    assert clean_name("Sam\udc00") == "Sam"
    assert clean_short("ok\ud800", limit=10, field="reason") == "ok"


def test_a_facilitators_longer_text_keeps_its_lines_and_loses_what_hides_text() -> None:
    """Agreements and crisis resources keep their lines and blank lines, as typed."""
    assert clean_block(" Call 116 123.\r\n\r\n\r\nOr visit\u202e samaritans.org\x00 ") == (
        "Call 116 123.\n\n\nOr visit samaritans.org"
    )
