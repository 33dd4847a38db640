"""A live session's state survives JSON, for hubs that keep it outside the process."""

from __future__ import annotations

import json

from holdspace.core import codec
from holdspace.core import commands as c
from holdspace.core.state import RoomState
from tests.core.helpers import Room, config


def test_a_rich_state_round_trips() -> None:
    """Mid-round, with a mute until lifted, someone at the door, a whisper and reactions."""
    room = Room(RoomState(config=config(capacity=8), epoch="e9"))
    for user in ("ana", "ben"):
        room.sharer(user)
    room.join("lis")
    seq = room.ok("ana", c.Post("hello", sensitive=True)).reply["message"]
    room.ok("lis", c.React(seq, "me_too"))
    room.ok("keeper", c.Mute("lis"))
    room.ok("lis", c.Whisper("I need a moment"))
    room.ok("ben", c.RaiseHand())
    room.ok("keeper", c.StartRound("check_in", turn_seconds=60))
    room.ok("dee", c.Join("dee-conn", "Dee", "member"))  # held at the door
    text = codec.to_json(room.state)
    assert json.loads(text)["participants"][3]["muted_until"] == "inf"
    again = codec.from_json(text)
    assert again == room.state
    assert codec.to_json(again) == text
