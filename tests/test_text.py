"""Cleaning what members type: plain text in, plain text out, never HTML."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from holdspace.core.text import (
    MAX_MESSAGE_CHARS,
    _strip_once,
    clean_message,
    clean_name,
    clean_short,
    strip_markup,
)
from holdspace.errors import InvalidInput


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("a < b & c > d", "a < b & c > d"),
        ("<b>bold</b> move", "bold move"),
        ("AT&T &amp; friends", "AT&T &amp; friends"),
        ("x &lt; y", "x &lt; y"),
        ("<3 you all", "<3 you all"),
        ('<a href="javascript:alert(1)">link</a>', "link"),
        ("<!-- hidden -->shown", "shown"),
        ("\"quoted\" and 'single'", "\"quoted\" and 'single'"),
        ("caf\u0065\u0301", "caf\u00e9"),  # NFC
        ("line one\r\nline two", "line one\nline two"),
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("hidden\u202eevil", "hiddenevil"),  # bidi override removed
        ("zero\u200bwidth", "zerowidth"),
        ("  padded  ", "padded"),
    ],
)
def test_messages_read_as_typed_minus_markup(typed: str, read: str) -> None:
    """Tags go; everything else the member typed stays exactly, with no double escaping."""
    assert clean_message(typed) == read


@pytest.mark.parametrize(
    ("typed", "code"), [("", "empty"), ("  \n\t ", "empty"), ("<b></b>", "empty")]
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


def test_names_are_one_clean_line() -> None:
    """Display names lose markup, newlines and runs of spaces."""
    assert clean_name("  <i>Sam</i>\n the   brave ") == "Sam the brave"
    with pytest.raises(InvalidInput):
        clean_name("<b></b>")
    with pytest.raises(InvalidInput):
        clean_name("x" * 41)


@given(st.text(alphabet=st.characters(blacklist_characters="<"), max_size=200))
def test_text_without_a_tag_opener_is_never_changed_by_markup_stripping(text: str) -> None:
    """Without a ``<`` there can be no tag, so the (slow) parser is skipped and nothing changes."""
    assert strip_markup(text) == text


@given(st.text(alphabet=st.sampled_from("<>3 =-.&;\n\u00e9"), max_size=60))
def test_the_parser_is_skipped_only_where_it_would_change_nothing(text: str) -> None:
    """``<`` without a letter, ``!``, ``/`` or ``?`` after it opens nothing: the shortcut
    gives what the parser gives."""
    assert strip_markup(text) == text == _strip_once(text)


@given(st.text(alphabet=st.sampled_from("<>/ab &;!-?\"'=\n"), max_size=60) | st.text(max_size=100))
def test_cleaning_is_stable(text: str) -> None:
    """Cleaned text is a fixed point: nothing markup-like is left to strip."""
    try:
        once = clean_message(text)
    except InvalidInput:
        return
    assert clean_message(once) == once


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("<<b>i>hello", "hello"),  # the first pass leaves <i>
        (";<<?>?", ";"),  # ...or a bogus comment's opening
        ("I <3 you <<b>", "I <3 you <"),
        ("<<<<<a>b>c>d>e>f", "d>e>f"),  # nested past the passes: no brackets left
    ],
)
def test_markup_uncovered_by_stripping_is_stripped_too(typed: str, kept: str) -> None:
    assert strip_markup(typed) == kept
    assert strip_markup(kept) == kept


def test_lone_surrogates_are_dropped_everywhere_text_is_cleaned() -> None:
    """A JSON escape can smuggle half a surrogate pair in (through the HTTP API, say); it
    could never be sent on as UTF-8, so it goes. A whole character stays."""
    assert clean_message("a\ud83db \U0001f600") == "ab \U0001f600"
    assert clean_name("Sam\udc00") == "Sam"
    assert clean_short("ok\ud800", limit=10, field="reason") == "ok"
