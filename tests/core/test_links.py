"""Tappable links in facilitators' text: escaped text, https and tel links, nothing else."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holdspace.core.links import linkify

WEB = 'rel="noopener noreferrer" target="_blank"'
TEL = 'rel="noopener noreferrer"'
_TAG = re.compile(r"</?a(?: [^>]*)?>")


class _Reader(HTMLParser):
    """What a browser would make of the output: tags, links, and the text it shows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.links: list[dict[str, str | None]] = []
        self.texts: list[str] = []
        self.visible: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links.append(dict(attrs))
        self.texts.append("")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag + "/")

    def handle_endtag(self, tag: str) -> None:
        self.tags.append("/" + tag)

    def handle_data(self, data: str) -> None:
        self.visible.append(data)
        if self.tags and self.tags[-1] == "a":
            self.texts[-1] += data

    def handle_comment(self, data: str) -> None:
        self.tags.append("!--")

    def handle_decl(self, decl: str) -> None:
        self.tags.append("!")

    def handle_pi(self, data: str) -> None:
        self.tags.append("?")

    def unknown_decl(self, data: str) -> None:
        self.tags.append("!")


def read(output: str) -> _Reader:
    reader = _Reader()
    reader.feed(output)
    reader.close()
    return reader


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        (
            "Samaritans: call 116 123 any time, or visit https://www.samaritans.org",
            f'Samaritans: call <a href="tel:116123" {TEL}>116 123</a> any time, or visit '
            f'<a href="https://www.samaritans.org" {WEB}>https://www.samaritans.org</a>',
        ),
        ("+44 (0)20 7123 4567", f'<a href="tel:+442071234567" {TEL}>+44 (0)20 7123 4567</a>'),
        ("+353 (0)1 234 5678", f'<a href="tel:+35312345678" {TEL}>+353 (0)1 234 5678</a>'),
        ("(0)20 7123 4567", f'<a href="tel:02071234567" {TEL}>(0)20 7123 4567</a>'),
        ("116 123", f'<a href="tel:116123" {TEL}>116 123</a>'),
        ("988", f'<a href="tel:988" {TEL}>988</a>'),
        ("0800-068-41-41", f'<a href="tel:08000684141" {TEL}>0800-068-41-41</a>'),
        ("800.273.8255", f'<a href="tel:8002738255" {TEL}>800.273.8255</a>'),
        ("Call (800) 273-8255.", f'Call <a href="tel:8002738255" {TEL}>(800) 273-8255</a>.'),
        ("Text SHOUT to 85258", f'Text SHOUT to <a href="tel:85258" {TEL}>85258</a>'),
        ("116 123 24/7", f'<a href="tel:116123" {TEL}>116 123</a> 24/7'),
        ("116 123 24hrs", f'<a href="tel:116123" {TEL}>116 123</a> 24hrs'),
        ("samaritans.org", f'<a href="https://samaritans.org" {WEB}>samaritans.org</a>'),
        (
            "www.mind.org.uk/help",
            f'<a href="https://www.mind.org.uk/help" {WEB}>www.mind.org.uk/help</a>',
        ),
        (
            "http://example.org/a",
            f'<a href="https://example.org/a" {WEB}>http://example.org/a</a>',
        ),
        (
            "https://example.org/page/12345",
            f'<a href="https://example.org/page/12345" {WEB}>https://example.org/page/12345</a>',
        ),
    ],
)
def test_crisis_numbers_and_addresses_become_links(typed: str, shown: str) -> None:
    """Web addresses link to https in a new tab, phone numbers to tel:, both shown as typed."""
    assert linkify(typed) == shown


@pytest.mark.parametrize(
    "typed",
    [
        "24/7",
        "10:30",
        "3.5",
        "v2",
        "item42",
        "2024",
        "(1999)",
        "12",
        "1234567890123456",  # 16 digits: too long for a phone number
        "1,000 people",
        "£12.50",
        "7.30 pm",
        "17.5%",
        "7.30-9.00 pm",
        "ages 18-25",
        "01.06.2024",
        "2024-06-01",
        "116123abc",
    ],
)
def test_numbers_that_are_not_phone_numbers_stay_text(typed: str) -> None:
    """Times, years, dates, decimals, ranges and numbers touching letters are not linked."""
    assert "<a" not in linkify(typed)


@pytest.mark.parametrize(
    "typed",
    [
        "javascript:alert(1)",
        "javascript://example.org/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        '<a href="javascript:alert(1)">x</a>',
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "ftp://example.org/file",
        "mailto:help@samaritans.org",
        "help@samaritans.org",
        "<b>hi</b>",
        "<!-- hidden -->",
        "&lt;b&gt; &amp; &#60;",
    ],
)
def test_other_schemes_and_markup_stay_visible_text(typed: str) -> None:
    """Nothing but http(s) addresses and phone numbers is linked; markup shows as typed."""
    assert linkify(typed) == html.escape(typed, quote=False)


def test_typed_markup_is_escaped_not_rendered() -> None:
    """A facilitator's tags come out escaped, exactly."""
    assert linkify("<b>hi</b>") == "&lt;b&gt;hi&lt;/b&gt;"


@pytest.mark.parametrize(
    "typed",
    [
        "Be kind & patient; \"no fixing\", 'no advice'.",
        "a < b > c",
        "I <3 you all",
        "line one\nline two\n\n\tindented",
        "café ☕ 🌧️ — שלום",
        "already &amp; escaped",
        "",
    ],
)
def test_text_without_links_is_html_escaped_and_otherwise_untouched(typed: str) -> None:
    """Exactly &, < and > are escaped; quotes, newlines and tabs come back as typed."""
    assert linkify(typed) == html.escape(typed, quote=False)


@pytest.mark.parametrize(
    ("typed", "href", "text"),
    [
        ("https://example.org/?a=1&b=2", "https://example.org/?a=1&b=2", None),
        ("https://example.org/?q=&lt;", "https://example.org/?q=&lt;", None),
        ("https://example.org/it's", "https://example.org/it's", None),
        ('see "https://example.org/a" here', "https://example.org/a", "https://example.org/a"),
        ("<https://www.mind.org.uk/help>", "https://www.mind.org.uk/help", None),
    ],
)
def test_ampersands_and_quotes_in_addresses_round_trip(
    typed: str, href: str, text: str | None
) -> None:
    """The href a browser reads is the address as typed, correctly escaped in the HTML."""
    (link,) = read(linkify(typed)).links
    assert link["href"] == href
    assert html.unescape(linkify(typed)).count(href) == 2  # in the href and as its text
    if text is not None:
        assert read(linkify(typed)).texts == [text]


def test_ampersand_is_escaped_in_the_href() -> None:
    """A query string's & is written &amp; in the attribute."""
    assert linkify("https://example.org/?a=1&b=2") == (
        f'<a href="https://example.org/?a=1&amp;b=2" {WEB}>https://example.org/?a=1&amp;b=2</a>'
    )


@pytest.mark.parametrize(
    ("typed", "linked", "after"),
    [
        ("Visit https://www.samaritans.org.", "https://www.samaritans.org", "."),
        ("(see https://www.samaritans.org)", "https://www.samaritans.org", ")"),
        ("(see https://example.org/help).", "https://example.org/help", ")."),
        ("try https://example.org/a, or call", "https://example.org/a", ", or call"),
        ("Have you seen www.mind.org.uk?", "www.mind.org.uk", "?"),
        ("https://example.org/help!", "https://example.org/help", "!"),
        ("https://en.wikipedia.org/wiki/Mind_(charity)", "/wiki/Mind_(charity)", ""),
    ],
)
def test_punctuation_after_an_address_is_not_part_of_it(
    typed: str, linked: str, after: str
) -> None:
    """A full stop, comma, question mark or unbalanced bracket after an address stays outside."""
    shown = linkify(typed)
    (text,) = read(shown).texts
    assert text.endswith(linked)
    assert shown.endswith("</a>" + html.escape(after, quote=False))


def test_newlines_stay_newlines() -> None:
    """Line breaks are kept as newline characters for the client, never <br>."""
    assert linkify("Call 116 123\nor text 85258") == (
        f'Call <a href="tel:116123" {TEL}>116 123</a>\nor text <a href="tel:85258" {TEL}>85258</a>'
    )


def test_results_are_cached() -> None:
    """The same text is rendered once: every join sends the same few texts."""
    typed = "Call 116 123 or visit https://www.samaritans.org (cache test)"
    assert linkify(typed) is linkify(typed)
    assert linkify.cache_info().maxsize == 512


# Text as it reaches linkify, cleaned by holdspace.core.text: no C0 or C1 controls but
# newline and tab, no lone surrogates.
_CLEANED = st.characters(
    exclude_categories=["Cs"],
    exclude_characters=[chr(c) for c in [*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]],
)
# Pieces of addresses, numbers and markup, to steer generated text towards links.
_FRAGMENTS = st.sampled_from(
    [
        "https://",
        "http://",
        "www.",
        "example.org",
        ".uk",
        "/path?a=1&b=2",
        "javascript:",
        "data:text/html,",
        "mailto:",
        "@",
        "+44 ",
        "(0)",
        "116 123",
        "0800-068-41-41",
        "2024",
        ".",
        "(",
        ")",
        "&",
        "&amp;",
        "&lt;",
        "&#",
        ";",
        "<",
        ">",
        "<a href=",
        "</a>",
        '"',
        "'",
        "\n",
        " ",
    ]
)
_TEXT = st.lists(st.one_of(_FRAGMENTS, st.text(_CLEANED, max_size=8)), max_size=30).map("".join)
_ANY_CHARACTER = st.characters(exclude_categories=[])  # surrogates too
_ANY_TEXT = st.lists(st.one_of(_FRAGMENTS, st.text(_ANY_CHARACTER, max_size=8)), max_size=30).map(
    "".join
)


def assert_only_safe_links(reader: _Reader) -> None:
    assert set(reader.tags) <= {"a", "/a"}
    assert reader.tags == ["a", "/a"] * (len(reader.tags) // 2)  # never nested
    for link in reader.links:
        href = link["href"] or ""
        assert href.startswith(("https://", "tel:"))
        assert link["rel"] == "noopener noreferrer"
        assert link.get("target") == ("_blank" if href.startswith("https://") else None)


@settings(deadline=None, max_examples=300)
@given(_TEXT)
def test_output_is_only_safe_links_around_exactly_the_typed_text(typed: str) -> None:
    """For cleaned text (bleach.clean would turn C0 controls into "?", drop NUL and turn CR
    into LF), the output has only <a> tags with https: or tel: hrefs and shows exactly the
    input."""
    shown = linkify(typed)
    reader = read(shown)
    assert_only_safe_links(reader)
    assert "".join(reader.visible) == typed
    assert _TAG.sub("", shown) == html.escape(typed, quote=False)


@settings(deadline=None, max_examples=150)
@given(_ANY_TEXT)
def test_any_text_at_all_yields_only_safe_links(typed: str) -> None:
    """Even uncleaned text (controls, lone surrogates) yields nothing but safe links."""
    assert_only_safe_links(read(linkify(typed)))
