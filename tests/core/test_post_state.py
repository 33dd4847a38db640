"""Each member is told why they can't post, and told again whenever that changes."""

from __future__ import annotations

import pytest

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core.room import Transition
from holdspace.core.state import RoomState
from holdspace.core.views import snapshot
from tests.core.helpers import Room, config


@pytest.fixture
def room() -> Room:
    return Room(RoomState(config=config(capacity=8), epoch="e1"))


def told(t: Transition) -> dict[str, str | None]:
    """Who was told what by this step's ``post_state`` notices."""
    out: dict[str, str | None] = {}
    for n in t.notices:
        if isinstance(n, e.PostState):
            [user] = n.to
            out[user] = n.code
    return out


def test_a_newcomer_learns_it_from_the_snapshot_not_a_notice(room: Room) -> None:
    t = room.ok("amy", c.Join("amy-conn", "Amy", "member"))
    assert told(t) == {}
    post = snapshot(room.state, "amy", room.now)["post"]
    assert post["code"] == "agreement_required"
    assert "agreement" in post["message"]


def test_each_step_towards_sharing_is_told(room: Room) -> None:
    room.join("amy")
    assert told(room.ok("amy", c.Agree())) == {"amy": "listening"}
    t = room.ok("amy", c.SetMode("sharer"))
    assert told(t) == {"amy": None}
    [notice] = [n for n in t.notices if isinstance(n, e.PostState)]
    assert notice.message is None
    assert told(room.ok("amy", c.SetMode("listener"))) == {"amy": "listening"}


def test_a_pause_tells_every_sharer_and_resuming_lifts_it(room: Room) -> None:
    room.sharer("amy")
    room.sharer("bo")
    t = room.ok("keeper", c.Pause(message="A short break"))
    assert told(t) == {"amy": "paused", "bo": "paused"}
    assert told(room.ok("keeper", c.Resume())) == {"amy": None, "bo": None}


def test_only_those_whose_reason_changed_hear_of_it(room: Room) -> None:
    room.sharer("amy")
    room.join("bo")  # listening: a pause changes nothing for him
    assert told(room.ok("keeper", c.Pause())) == {"amy": "paused"}
    refused = room.do("amy", c.Post("hello?"))
    assert refused.error is not None
    assert told(refused) == {}  # nothing changed: the refusal says it again


def test_the_talking_piece_moving_tells_who_may_speak(room: Room) -> None:
    room.sharer("amy")
    room.sharer("bo")
    t = room.ok("keeper", c.StartRound())
    holder = room.state.round.holder if room.state.round else None
    other = "bo" if holder == "amy" else "amy"
    assert told(t) == {other: "not_your_turn"}
    [notice] = [n for n in t.notices if isinstance(n, e.PostState)]
    assert notice.message is not None
    assert "turn to share" in notice.message
    assert holder is not None
    t = room.ok(holder, c.Done())
    assert told(t) == {holder: "not_your_turn", other: None}


def test_a_mute_running_out_is_told_on_the_tick(room: Room) -> None:
    room.sharer("amy")
    assert told(room.ok("keeper", c.Mute("amy", minutes=5))) == {"amy": "muted"}
    room.now += 4 * 60
    assert told(room.ok(None, c.Tick())) == {}
    room.now += 61
    assert told(room.ok(None, c.Tick())) == {"amy": None}


def test_facilitators_are_never_blocked_and_never_told(room: Room) -> None:
    room.sharer("amy")
    t = room.ok("keeper", c.Pause())
    assert "keeper" not in told(t)
    assert snapshot(room.state, "keeper", room.now)["post"] == {"code": None, "message": None}


def test_the_end_of_the_session_needs_no_notice(room: Room) -> None:
    """Everyone hears ``session_ended``; no composer is left to update."""
    room.sharer("amy")
    assert told(room.ok("keeper", c.EndSession())) == {}
