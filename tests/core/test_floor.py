"""The floor: a talking piece outside rounds, given by a facilitator to a member."""

from __future__ import annotations

import pytest

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core.state import RoomState
from holdspace.core.views import snapshot
from tests.core.helpers import Room, config


@pytest.fixture
def room() -> Room:
    """A facilitator (``keeper``), two sharers and a listener, all affirmed."""
    room = Room(RoomState(config=config(capacity=8), epoch="e1"))
    room.sharer("ana")
    room.sharer("ben")
    room.join("sam", agreed=True)  # listening
    return room


def test_the_first_raised_hand_gets_the_floor_and_everyone_sees_it(room: Room) -> None:
    """Giving the floor names who has it; the queue moves on; the snapshot says so."""
    room.ok("ben", c.RaiseHand())
    room.ok("sam", c.RaiseHand())
    [given] = room.ok("keeper", c.GiveFloor()).events
    assert isinstance(given, e.FloorGiven)
    assert (given.user_id, given.by, given.queue) == ("ben", "keeper", ("sam",))
    assert snapshot(room.state, "ana", room.now)["floor"] == "ben"
    assert room.state.hands == ["sam"]


def test_while_someone_has_the_floor_only_they_and_facilitators_post(room: Room) -> None:
    """Whoever raised their hand is heard instead of talked over; reacting stays open."""
    room.ok("ben", c.RaiseHand())
    room.ok("keeper", c.GiveFloor())
    message = room.ok("ben", c.Post("Can I say something about last week?")).reply["message"]
    refused = room.do("ana", c.Post("me too"))
    assert refused.error is not None
    assert refused.error.code == "not_your_turn"
    assert "Ben" in refused.error.message
    room.ok("ana", c.React(message, "me_too"))
    room.ok("keeper", c.Post("Thank you, Ben."))


def test_a_listener_given_the_floor_is_asked_not_made_to_share(room: Room) -> None:
    """Sam stays listening until he chooses to share; then he can post."""
    room.ok("sam", c.RaiseHand())
    room.ok("keeper", c.GiveFloor())
    assert room.refused("sam", c.Post("hello")) == "listening"
    room.ok("sam", c.SetMode("sharer"))
    room.ok("sam", c.Post("I'd like to share after all."))


@pytest.mark.parametrize("finish", [c.Done(), c.Pass()])
def test_done_or_pass_gives_the_floor_back_and_the_room_hears_done(
    room: Room, finish: c.Command
) -> None:
    """Whether they spoke is nobody's business: both read ``done``, and posting opens up."""
    room.ok("keeper", c.GiveFloor("ben"))
    [ended] = room.ok("ben", finish).events
    assert isinstance(ended, e.FloorEnded)
    assert (ended.user_id, ended.outcome, ended.by) == ("ben", "done", None)
    assert room.state.floor is None
    room.ok("ana", c.Post("Thanks, Ben."))


def test_facilitators_can_give_it_to_anyone_move_it_on_or_end_it(room: Room) -> None:
    """A named member gets it; giving it to another ends the first; ending opens the floor."""
    room.ok("keeper", c.GiveFloor("ana"))
    t = room.ok("keeper", c.GiveFloor("ben"))
    assert [(ev.type, getattr(ev, "outcome", None)) for ev in t.events] == [
        ("floor_ended", "ended"),
        ("floor", None),
    ]
    assert room.ok("keeper", c.GiveFloor("ben")).events == []  # already theirs
    [ended] = room.ok("keeper", c.EndFloor()).events
    assert isinstance(ended, e.FloorEnded)
    assert (ended.outcome, ended.by) == ("ended", "keeper")
    assert room.refused("keeper", c.EndFloor()) == "no_floor"
    assert room.refused("keeper", c.GiveFloor("keeper")) == "invalid"
    assert room.refused("ana", c.GiveFloor("ana")) == "forbidden"
    assert room.refused("keeper", c.GiveFloor("nobody")) == "no_such_participant"


def test_rounds_and_the_floor_never_overlap(room: Room) -> None:
    """A round ends the floor; the floor can't be given during a round."""
    room.ok("keeper", c.GiveFloor("ana"))
    t = room.ok("keeper", c.StartRound())
    assert room.types(t)[:2] == ["floor_ended", "round_started"]
    assert room.refused("keeper", c.GiveFloor("ben")) == "round_running"


@pytest.mark.parametrize(
    ("how", "outcome"),
    [
        (c.Disconnect("ben-conn"), "left"),
        (c.Leave(), "left"),
        (c.SetMode("listener"), "done"),
    ],
)
def test_the_floor_is_never_held_by_someone_who_cant_use_it(
    room: Room, how: c.Command, outcome: str
) -> None:
    """Losing the connection, leaving or choosing to listen gives the floor back."""
    room.ok("keeper", c.GiveFloor("ben"))
    t = room.ok("ben", how)
    ended = next(ev for ev in t.events if isinstance(ev, e.FloorEnded))
    assert ended.outcome == outcome
    assert room.state.floor is None


def test_muting_or_removing_the_holder_ends_the_floor(room: Room) -> None:
    """A facilitator's mute or removal takes the floor back too."""
    room.ok("keeper", c.GiveFloor("ben"))
    assert "floor_ended" in room.types(room.ok("keeper", c.Mute("ben", minutes=5)))
    room.ok("keeper", c.GiveFloor("ana"))
    assert "floor_ended" in room.types(room.ok("keeper", c.Remove("ana")))
    assert room.state.floor is None


def test_the_floor_goes_to_the_first_hand_of_someone_connected(room: Room) -> None:
    """A hand raised before a phone dropped stays queued, but the floor can't wait for it."""
    room.ok("ana", c.RaiseHand())
    room.ok("ben", c.RaiseHand())
    room.ok("ana", c.Disconnect("ana-conn"))
    t = room.ok("keeper", c.GiveFloor())
    assert room.state.floor == "ben"
    assert [ev.type for ev in t.events] == ["floor"]
    assert room.state.hands == ["ana"]


def test_nobody_away_is_given_the_floor(room: Room) -> None:
    room.ok("ana", c.RaiseHand())
    room.ok("ana", c.Disconnect("ana-conn"))
    assert room.refused("keeper", c.GiveFloor()) == "no_hands"
    assert room.refused("keeper", c.GiveFloor("ana")) == "not_present"
    assert room.state.floor is None
