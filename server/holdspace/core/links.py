"""Tappable links in what facilitators write: crisis resources, agreements, descriptions.

Facilitators write these as plain text ("Samaritans: call 116 123 any time, or visit
https://www.samaritans.org"). People read them on phones, sometimes in crisis, and need to
tap the number or the address rather than copy it. :func:`linkify` turns the text into safe
HTML: everything escaped, web addresses linked to ``https://``, phone numbers to ``tel:``,
and nothing else. Whatever looks like markup stays visible as the text that was typed.

How, and why this way:

1. Web addresses: bleach's ``LinkifyFilter``, the filter behind ``bleach.linkify``, with a
   callback that links only http(s) (upgraded to https) and drops every other scheme. It
   reads one text token rather than parsed HTML: the text is not HTML, so nothing in it
   may be read as a tag or an entity. Its only preparation is writing ``&`` as ``&amp;``,
   the form bleach's linkifier expects (it turns each ``&amp;`` back into ``&``). Escaping
   everything first and calling ``Linker.linkify`` would not do: bleach's pattern would
   read ``&gt;`` as part of an address and link ``<https://example.org/help>`` with the
   ``>``.
2. Phone numbers: a second filter over the same token stream, matching only the text
   between the links the first one made, so a number inside a web address is never
   linked. It is not another ``LinkifyFilter``: bleach would trim the ``(`` off
   "(800) 273-8255".
3. bleach's serializer escapes the text; a final ``bleach.clean`` with an allowlist
   (``<a>`` with href, rel and target; https and tel) checks the result, links included.

Newlines stay ``\\n`` (clients render with ``white-space: pre-line``). Callers pass text
cleaned as ``holdspace.core.text`` cleans it: no C0/C1 controls but newline and tab. Safety
doesn't depend on that, exactness does: ``bleach.clean`` shows other C0 controls as ``?``,
drops NUL and turns CR into LF. bleach is slow (~13 ms for 4 KB) and the same few texts go
out on every join, so results are cached.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any

import bleach

# html5lib's token stream: dicts with a "type", and "data" or "name".
_Token = dict[str, Any]

_TAGS = frozenset({"a"})
_ATTRIBUTES = {"a": ["href", "rel", "target"]}
_PROTOCOLS = frozenset({"https", "tel"})
_REL = "noopener noreferrer"

# bleach's web address pattern. It knows the schemes below so that an address with one of
# them is matched whole and refused whole, rather than linking the part after "ftp://".
# bleach trims a trailing . , or unbalanced ); the lookbehind also keeps ! ? ' * : off the
# end ("Have you seen www.mind.org.uk?"). Not ";", which ends an "&amp;".
_SCHEMES = frozenset({*bleach.html5lib_shim.allowed_protocols, "javascript", "vbscript", "file"})
_BLEACH_WEB_ADDRESS = bleach.linkifier.build_url_re(protocols=_SCHEMES)
_WEB_ADDRESS = re.compile(
    rf"(?:{_BLEACH_WEB_ADDRESS.pattern})(?<![!?'*:])", _BLEACH_WEB_ADDRESS.flags
)

# A phone number as typed: an optional +, then groups of digits joined by single spaces,
# dashes or dots, or by brackets ("+44 (0)20 7123 4567", "(800) 273-8255", "0800-068-41-41").
# It must not touch a letter or a digit ("v2", "item42"), even through one punctuation mark
# ("24/7", "10:30", "1,000"). Digits are ASCII: a tel: link has to dial.
_PHONE_NUMBER = re.compile(
    r"""
    (?<!\w)(?<!\d[^\s\w])
    \+?
    (?:\([0-9]+\)|[0-9]+)
    (?:
        [ .\-]?\([0-9]+\)
      | (?<=\))[ .\-]?[0-9]+
      | [ .\-][0-9]+
    )*
    (?!\w)(?![^\s\w]\d)
    """,
    re.VERBOSE,
)
_MIN_DIGITS, _MAX_DIGITS = 3, 15  # "999", "988"; E.164 allows 15
_NOT_DIGIT = re.compile(r"[^0-9]")
_YEAR = re.compile(r"\(?(?:19|20)[0-9]{2}\)?")
_DATE = re.compile(
    r"[0-9]{1,2}([.\-])[0-9]{1,2}\1(?:19|20)[0-9]{2}"  # 01.06.2024
    r"|(?:19|20)[0-9]{2}([.\-])[0-9]{1,2}\2[0-9]{1,2}"  # 2024-06-01
)
_RANGE = re.compile(r"[0-9]+-[0-9]+")  # 18-25, 100-200; but 555-1234 is a number
_DOTTED = re.compile(r"\+?[0-9]+(?:\.[0-9]+){2,}")  # 800.273.8255, 01.23.45.67.89


@functools.lru_cache(maxsize=512)
def linkify(text: str) -> str:
    """Return ``text`` as safe HTML with its web addresses and phone numbers linked.

    The visible text of the result is exactly ``text``. Web links are
    ``<a href="https://…" rel="noopener noreferrer" target="_blank">as typed</a>``, phone
    links ``<a href="tel:+441234…" rel="noopener noreferrer">as typed</a>``; elsewhere
    ``&``, ``<`` and ``>`` are escaped and nothing else changes (quotes and newlines
    included). Pure, so cached.
    """
    # bleach's linkifier reads text as HTML source with entities left unresolved; "&amp;"
    # is the only one in it, and the filter turns each back into "&".
    typed: list[_Token] = [{"type": "Characters", "data": text.replace("&", "&amp;")}]
    web = bleach.linkifier.LinkifyFilter(
        source=typed, callbacks=[_web_link], url_re=_WEB_ADDRESS, parse_email=False
    )
    # Configured as bleach's Linker configures it. One per call: it keeps state while
    # rendering, and a cache miss can happen on any thread.
    serializer = bleach.html5lib_shim.BleachHTMLSerializer(
        quote_attr_values="always",
        omit_optional_tags=False,
        resolve_entities=False,
        sanitize=False,
        alphabetical_attributes=False,
    )
    linked = serializer.render(_link_phone_numbers(web))
    safe: str = bleach.clean(
        linked, tags=_TAGS, attributes=_ATTRIBUTES, protocols=_PROTOCOLS, strip=True
    )
    return safe


def _web_link(attrs: dict[Any, str], new: bool) -> dict[Any, str] | None:
    """bleach callback: link http(s) addresses as https in a new tab; leave others as text.

    ``attrs`` maps ``(None, "href")`` to the address (bleach adds ``http://`` to a bare
    domain) and ``"_text"`` to the text as typed. Returning ``None`` leaves the text unlinked.
    """
    if not new:  # only ever our own links: the text had none
        return attrs
    scheme, _, rest = attrs[(None, "href")].partition(":")
    if scheme.lower() not in ("http", "https"):
        return None
    return {
        (None, "href"): "https://" + rest.lstrip("/"),
        (None, "rel"): _REL,
        (None, "target"): "_blank",
        "_text": attrs["_text"],
    }


def _link_phone_numbers(tokens: Iterable[_Token]) -> Iterator[_Token]:
    """Link the phone numbers in the text between links, never inside one."""
    between: list[str] = []
    in_link = False
    for token in tokens:
        if token["type"] == "Characters" and not in_link:
            between.append(token["data"])  # bleach splits text at each "&": join it again
            continue
        if between:
            yield from _phone_links("".join(between))
            between = []
        if token["type"] in ("StartTag", "EndTag") and token["name"] == "a":
            in_link = token["type"] == "StartTag"
        yield token
    if between:
        yield from _phone_links("".join(between))


# "+44 (0)20 …": the (0) is dialled only from inside the country; after a country code,
# some networks refuse the call with it. A crisis number has to connect.
_TRUNK_ZERO = re.compile(r"^(\+[\d\s.-]*?)\(0\)")


def _dialled(typed: str) -> str:
    """What a phone dials for a number as typed: + and digits, without a trunk (0)."""
    if typed.startswith("+"):
        return "+" + _NOT_DIGIT.sub("", _TRUNK_ZERO.sub(r"\1", typed))
    return _NOT_DIGIT.sub("", typed)


def _phone_links(text: str) -> Iterator[_Token]:
    """Tokens for ``text`` (plain, unescaped) with each phone number in it linked."""
    end = 0
    for match in _PHONE_NUMBER.finditer(text):
        typed = match.group()
        if not _is_phone_number(typed):
            continue
        if match.start() > end:
            yield {"type": "Characters", "data": text[end : match.start()]}
        href = "tel:" + _dialled(typed)
        yield {"type": "StartTag", "name": "a", "data": {(None, "href"): href, (None, "rel"): _REL}}
        yield {"type": "Characters", "data": typed}
        yield {"type": "EndTag", "name": "a"}
        end = match.end()
    if end < len(text):
        yield {"type": "Characters", "data": text[end:]}


def _is_phone_number(typed: str) -> bool:
    """Whether a match of the phone pattern is a phone number: 3 to 15 digits, and not
    a year ("2024"), a date ("01.06.2024"), a decimal, price or time ("3.5", "12.50",
    "7.30-9.00") or a range ("18-25")."""
    digits = _NOT_DIGIT.sub("", typed)
    if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS:
        return False
    if _YEAR.fullmatch(typed) or _DATE.fullmatch(typed):
        return False
    if _RANGE.fullmatch(typed) and len(digits) < 7:
        return False
    # A dot is a decimal point or a time unless dots join three groups or more, alone.
    return "." not in typed or _DOTTED.fullmatch(typed) is not None
