"""A command sent again with the same client id gets its first answer and is never
applied twice."""

from __future__ import annotations

import pytest

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core import receipts
from holdspace.core.room import apply
from holdspace.core.state import RoomState
from holdspace.live.redis import codec
from tests.core.helpers import Room, config


@pytest.fixture
def room() -> Room:
    room = Room(RoomState(config=config(capacity=8), epoch="e1"))
    room.sharer("amy")
    room.sharer("bo")
    return room


def posts(room: Room) -> list[str | None]:
    return [ev.text for ev in room.events if isinstance(ev, e.MessagePosted)]


def test_a_post_sent_again_is_answered_again_and_not_posted_twice(room: Room) -> None:
    first = apply(room.state, "amy", c.Post("I'm here"), room.now, "amy-1")
    assert first.error is None
    again = apply(room.state, "amy", c.Post("I'm here"), room.now, "amy-1")
    assert again.reply == {**first.reply, "repeated": True}
    assert again.events == []
    assert [m.text for m in room.state.messages.values()] == ["I'm here"]


def test_a_reaction_sent_again_does_not_take_itself_back(room: Room) -> None:
    posted = room.ok("bo", c.Post("Thank you"))
    message = posted.reply["message"]
    once = apply(room.state, "amy", c.React(message, "heart"), room.now, "r-1")
    again = apply(room.state, "amy", c.React(message, "heart"), room.now, "r-1")
    assert (once.reply["reacted"], again.reply["reacted"]) == (True, True)
    assert room.state.messages[message].reactions["heart"] == {"amy"}
    assert again.events == []


def test_client_ids_are_per_person(room: Room) -> None:
    apply(room.state, "amy", c.Post("from Amy"), room.now, "same")
    t = apply(room.state, "bo", c.Post("from Bo"), room.now, "same")
    assert "repeated" not in t.reply
    assert [m.text for m in room.state.messages.values()] == ["from Amy", "from Bo"]


def test_a_refusal_is_not_kept_so_the_same_id_is_judged_again(room: Room) -> None:
    room.ok("keeper", c.Pause())
    refused = apply(room.state, "amy", c.Post("Hello?"), room.now, "amy-2")
    assert refused.error is not None
    room.ok("keeper", c.Resume())
    t = apply(room.state, "amy", c.Post("Hello?"), room.now, "amy-2")
    assert t.error is None
    assert "repeated" not in t.reply


def test_a_read_is_not_kept(room: Room) -> None:
    apply(room.state, "keeper", c.Balance(), room.now, "read-1")
    assert receipts.find(room.state, "keeper", "read-1") is None


def test_the_oldest_receipts_go_first_past_the_bound(
    room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receipts, "KEPT", 3)
    for n in range(5):
        room.now += 60  # past the rate limit
        assert apply(room.state, "amy", c.Post(f"m{n}"), room.now, f"id-{n}").error is None
    assert list(room.state.receipts) == ["amy id-2", "amy id-3", "amy id-4"]


def test_receipts_survive_the_redis_hub_codec_in_order(room: Room) -> None:
    for n in range(3):
        room.now += 60
        apply(room.state, "amy", c.Post(f"m{n}"), room.now, f"id-{n}")
    again = codec.from_parts(codec.to_parts(room.state))
    assert list(again.receipts.items()) == list(room.state.receipts.items())
    t = apply(again, "amy", c.Post("m1"), room.now, "id-1")
    assert t.reply["repeated"] is True
