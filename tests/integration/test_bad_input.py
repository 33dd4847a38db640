"""Bad input never hurts anyone: each gets a structured error, and the room carries on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from holdspace.protocol import MAX_FRAME_BYTES, TRANSPORT_MAX_BYTES
from holdspace_client import Client, CommandError
from tests.conftest import BACKENDS
from tests.live import Community, LiveServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("server", BACKENDS, indirect=True),  # embedded, and on Redis
]


async def joined_pair(community: Community) -> tuple[Client, Client, str]:
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    await community.person("lee", "Lee")
    room = await community.room("robin", ["sam", "lee"])
    robin = await community.client("robin")  # a live group always has its facilitator
    await robin.join(room.id)
    sam, lee = await community.client("sam"), await community.client("lee")
    for member in (sam, lee):
        await member.join(room.id)
        await member.agree()
        await member.set_mode("sharer")
    await lee.wait_for(lambda e: e.get("type") == "mode" and e.get("user_id") != "")
    return sam, lee, room.id


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_frame"),
        ("[1, 2, 3]", "bad_frame"),
        ('"just a string"', "bad_frame"),
        ("{}", "bad_frame"),
        ('{"type": 42}', "bad_frame"),
        ('{"type": "launch_rockets", "id": 7}', "unknown_command"),
        ('{"type": "post", "id": 8}', "missing_field"),
        ('{"type": "post", "text": 5, "id": 9}', "invalid_field"),
        ('{"type": "post", "text": ["a"], "id": 10}', "invalid_field"),
        ('{"type": "react", "message": "1", "kind": "heart"}', "invalid_field"),
        ('{"type": "react", "message": true, "kind": "heart"}', "invalid_field"),
        ('{"type": "mute", "user": "x", "minutes": "forever"}', "invalid_field"),
        ('{"type": "post", "text": "hi", "id": {"nested": 1}}', "bad_frame"),
        ("[" * 5000 + "]" * 5000, "bad_frame"),  # nested past the parser's depth
        ('{"type": "post", "text": "' + "x" * MAX_FRAME_BYTES + '"}', "frame_too_large"),
        ('{"type": "post", "id": 11, "text": "' + "x" * MAX_FRAME_BYTES + '"}', "frame_too_large"),
        ('{"type": "post", "text": "' + "x" * 2500 + '"}', "too_long"),
        ('{"type": "post", "text": "   "}', "empty"),
        ('{"type": "set_mode", "mode": "shouting"}', "invalid"),
        ('{"type": "react", "message": 99999, "kind": "heart"}', "no_such_message"),
        ('{"type": "auth", "token": "again"}', "already_authenticated"),
        ('{"type": "join", "room": "room_elsewhere"}', "already_joined"),
    ],
)
async def test_bad_frames_get_structured_errors(
    community: Community, frame: str, code: str
) -> None:
    """Each malformed or refused frame gets an error frame; the socket and the room carry on."""
    sam, lee, _ = await joined_pair(community)
    await sam.send_raw(frame)
    error = await sam.wait_for("error")
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    try:
        parsed = json.loads(frame)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("id"), int):
        assert error["id"] == parsed["id"]  # the reply names the frame it answers
    # The connection still works, and Lee saw nothing at all.
    message = await sam.post("still here")
    seen = await lee.wait_for("message")
    assert seen["seq"] == message
    assert lee.pending_events() == []


async def test_binary_frames_are_refused_politely(community: Community) -> None:
    """A binary frame gets an error, not a dropped connection."""
    sam, _, _ = await joined_pair(community)
    await sam.send_raw(b"\x00\x01binary")
    assert (await sam.wait_for("error"))["code"] == "binary_frame"
    assert (await sam.request("ping"))["type"] == "pong"


async def test_markup_arrives_as_plain_text(community: Community) -> None:
    """What looks like markup arrives exactly as typed, as text: nothing is deleted."""
    sam, lee, _ = await joined_pair(community)
    typed = '<script>alert("hi")</script><b>Tom & Jerry</b> <3 <img src=x onerror=y>'
    for text in (typed, "sending <hugs> to everyone", "x<y and y>z"):
        await sam.post(text)
        seen = await lee.wait_for("message")
        assert seen["text"] == text


async def test_a_huge_frame_closes_only_its_own_connection(
    community: Community, server: LiveServer
) -> None:
    """A frame past the transport limit closes that socket (1009); nobody else notices."""
    sam, lee, room = await joined_pair(community)
    await sam.send_raw("x" * (TRANSPORT_MAX_BYTES + 1))
    await sam.wait_disconnected()
    assert sam.close_code == 1009
    away = await lee.wait_for("away")
    assert away["user_id"] == community.users["sam"].id
    assert (await lee.request("ping"))["type"] == "pong"
    assert lee.duplicates == lee.gaps == 0
    assert room


async def test_refusals_are_sent_only_to_the_sender(community: Community) -> None:
    """A refused command produces an error for its sender and no event for anyone."""
    sam, lee, _ = await joined_pair(community)
    lee.pending_events()  # read what came before the refusal
    with pytest.raises(CommandError) as refused:
        await sam.request("pause")
    assert refused.value.code == "forbidden"
    assert refused.value.frame["id"] is not None
    pong: dict[str, Any] = await lee.request("ping")
    assert pong["type"] == "pong"
    assert lee.pending_events() == []
