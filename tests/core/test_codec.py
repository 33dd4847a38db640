"""A live session's state survives JSON parts, for hubs that keep it outside the process."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from holdspace.core import commands as c
from holdspace.core import receipts
from holdspace.core.room import apply
from holdspace.core.state import Participant, RoomState, Stats
from holdspace.live.redis import codec
from holdspace.live.redis.state import changed_parts, stored
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
    parts = codec.to_parts(room.state)
    assert json.loads(parts["core"])["participants"][3]["muted_until"] == "inf"
    assert set(parts) == {"config", "core", "whispers", f"m:{seq}"}
    again = codec.from_parts(parts)
    assert again == room.state
    assert codec.to_parts(again) == parts


def test_the_core_names_every_field_of_a_participant_and_of_their_stats() -> None:
    """The core spells its records out field by field (quicker than walking the
    dataclass): a field added to one and not to the codec would silently reset."""
    room = Room(RoomState(config=config(capacity=8), epoch="e1"))
    room.sharer("ana")
    room.ok("ana", c.Post("hello"))
    core = json.loads(codec.core_json(room.state))
    assert set(core["participants"][0]) == {f.name for f in fields(Participant)}
    assert set(core["stats"]["ana"]) == {f.name for f in fields(Stats)}


def test_messages_come_back_oldest_first_whatever_order_the_parts_arrive_in() -> None:
    """A hash hands its fields back in no particular order; the buffer drops the oldest."""
    room = Room(RoomState(config=config(capacity=8), epoch="e1"))
    seqs = [room.ok("keeper", c.Post(f"note {n}")).reply["message"] for n in range(12)]
    parts = codec.to_parts(room.state)
    shuffled = dict(sorted(parts.items(), reverse=True))
    assert list(codec.from_parts(shuffled).messages) == seqs


def test_whispers_mark_moves_with_each_whisper() -> None:
    room = Room(RoomState(config=config(capacity=8), epoch="e1"))
    room.join("lis")
    marks = {codec.whispers_mark(room.state)}
    for _ in range(3):
        room.ok("lis", c.Whisper("I need a moment"))
        marks.add(codec.whispers_mark(room.state))
    assert len(marks) == 4


def test_a_step_another_worker_wrote_is_advanced_to_from_its_parts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker that remembers the state before a step reaches the state after it from
    the parts the step wrote and deleted alone: messages and receipts let go of, a
    reaction in its seat, a whisper."""
    monkeypatch.setattr(receipts, "KEPT", 2)
    room = Room(RoomState(config=config(capacity=8, message_buffer=3), epoch="e1"))
    room.join("lis")
    for n in range(4):
        room.ok("keeper", c.Post(f"note {n}"))
    steps: list[tuple[str, c.Command, str | None]] = [
        ("keeper", c.Post("a new one"), "cid-1"),
        ("lis", c.React(room.state.seq, "heart"), None),
        ("keeper", c.Post("and another"), "cid-2"),
        ("keeper", c.Post("one more"), "cid-3"),
        ("lis", c.Whisper("I need a moment"), None),
    ]
    for actor, cmd, cid in steps:
        before = codec.to_parts(room.state)
        room.state.messages.track()
        room.state.receipts.track()
        t = apply(room.state, actor, cmd, room.now, cid)
        assert t.error is None
        write, gone = changed_parts(
            stored("7", before),
            room.state,
            codec.core_json(room.state),
            codec.whispers_mark(room.state),
            t,
        )
        assert codec.advance(codec.from_parts(before), write, gone) == room.state
        assert list(codec.advance(codec.from_parts(before), write, gone).messages) == list(
            room.state.messages
        )
    assert len(room.state.receipts) == 2
