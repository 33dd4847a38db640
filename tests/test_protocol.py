"""The wire format: one parser for client frames, one encoder for events."""

from __future__ import annotations

import json

import pytest

from holdspace import protocol as p
from holdspace.core import commands as c
from holdspace.core import events as e


def test_commands_parse_into_typed_values() -> None:
    """A well-formed frame becomes its typed command, with its id."""
    frame = p.parse('{"type": "mute", "id": "m-1", "user": "u_1", "minutes": 10, "reason": "x"}')
    assert frame == p.Frame("m-1", "mute", c.Mute("u_1", 10, "x"))
    join = p.parse('{"type":"join","room":"r","resume":{"session":"s","epoch":"e","seq":4}}')
    assert join.command == p.JoinRoom("r", p.ResumeFrom("s", "e", 4))
    assert p.parse('{"type": "pause", "message": null}').command == c.Pause(None)


@pytest.mark.parametrize(
    ("text", "code", "field"),
    [
        ('{"type":"post"}', "missing_field", "text"),
        ('{"type":"post","text":null}', "invalid_field", "text"),
        ('{"type":"react","message":1.5,"kind":"heart"}', "invalid_field", "message"),
        ('{"type":"mute","user":"u","minutes":"10"}', "invalid_field", "minutes"),
        ('{"type":"join","room":"r","resume":{"session":"s","epoch":"e","seq":-1}}',
         "invalid_field", "resume"),
    ],
)  # fmt: skip
def test_field_errors_name_the_field(text: str, code: str, field: str) -> None:
    """A wrong or missing field is named in the error, so a client developer can fix it."""
    with pytest.raises(p.BadFrame) as bad:
        p.parse(text)
    assert bad.value.code == code
    assert bad.value.detail["field"] == field


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"mute","user":"u","minutes":NaN}',
        '{"type":"post","text":"half a \\ud83d pair"}',
        '{"type":"post","text":"x"',
        "[" * 2000 + "]" * 2000,
    ],
)
def test_what_is_not_strict_json_is_refused_whole(text: str) -> None:
    """NaN, a lone surrogate (it could never be sent on as UTF-8), a cut-off frame, or
    nesting past any real command's depth."""
    with pytest.raises(p.BadFrame) as bad:
        p.parse(text)
    assert bad.value.code == "bad_frame"


def test_errors_keep_the_frame_id() -> None:
    """Even a refused frame's id comes back, when it could be read."""
    with pytest.raises(p.BadFrame) as bad:
        p.parse('{"type":"dance","id":12}')
    assert bad.value.frame_id == 12
    frame = json.loads(p.error_frame(bad.value, bad.value.frame_id))
    assert frame == {
        "type": "error",
        "code": "unknown_command",
        "message": "Unknown command 'dance'.",
        "id": 12,
    }


def test_events_encode_once_with_instants_in_iso() -> None:
    """An event's frame names its type and seq, and every instant is ISO 8601 UTC."""
    event = e.Muted(seq=7, at=1_800_000_000.0, user_id="u", by="f", until=1_800_000_060.0)
    assert json.loads(p.encode_event(event)) == {
        "type": "muted",
        "seq": 7,
        "at": "2027-01-15T08:00:00.000Z",
        "user_id": "u",
        "by": "f",
        "until": "2027-01-15T08:01:00.000Z",
    }


def test_encoding_keeps_unicode_readable() -> None:
    """Frames carry text as UTF-8, not \\u escapes, so they stay small for every language."""
    event = e.MessagePosted(seq=1, at=0.0, user_id="u", name="Zoë", text="私は大丈夫 🌱")
    assert "私は大丈夫 🌱" in p.encode_event(event)


def test_a_client_id_travels_with_its_command() -> None:
    frame = p.parse('{"type":"post","id":3,"cid":"kim-1733190000.7:a_b","text":"hi"}')
    assert (frame.cid, frame.command) == ("kim-1733190000.7:a_b", c.Post("hi"))
    assert p.parse('{"type":"post","text":"hi"}').cid is None


@pytest.mark.parametrize("cid", ['""', "42", '"has space"', '"' + "x" * 65 + '"', '"é"'])
def test_a_client_id_is_short_and_plain(cid: str) -> None:
    with pytest.raises(p.BadFrame) as bad:
        p.parse(f'{{"type":"post","id":4,"cid":{cid},"text":"hi"}}')
    assert (bad.value.code, bad.value.detail["field"], bad.value.frame_id) == (
        "invalid_field", "cid", 4,
    )  # fmt: skip
