"""Rounds: the talking piece, done and pass, timing out, the second chance, the door."""

from __future__ import annotations

import pytest

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core.state import RoomState
from holdspace.core.views import snapshot
from tests.core.helpers import Room, config, private


def circle(*, show_passes: bool = False) -> Room:
    """A facilitator (``keeper``), three sharers and one listener, in arrival order."""
    room = Room(RoomState(config=config(capacity=8, show_passes=show_passes), epoch="e1"))
    for user in ("ana", "ben", "cai"):
        room.sharer(user)
    room.join("lis")  # only listening
    return room


@pytest.fixture
def room() -> Room:
    """A group with the default: passes are the facilitators' to see."""
    return circle()


@pytest.fixture
def open_room() -> Room:
    """A group that chose to let everyone see who passed."""
    return circle(show_passes=True)


def turn_holders(events: list[e.Event]) -> list[str]:
    return [ev.user_id for ev in events if isinstance(ev, e.Turn)]


def test_the_piece_goes_round_sharers_in_arrival_order_never_to_listeners(room: Room) -> None:
    """The order is the sharers present, by arrival; listeners and facilitators aren't called."""
    t = room.ok("keeper", c.StartRound("check_in"))
    started, turn = t.events
    assert isinstance(started, e.RoundStarted)
    assert started.order == ("ana", "ben", "cai")
    assert started.prompt == "How are you arriving today?"
    assert isinstance(turn, e.Turn)
    assert (turn.user_id, turn.queue) == ("ana", ("ben", "cai"))


def test_quietest_first_offers_the_floor_to_who_spoke_least_recently(room: Room) -> None:
    """Quietest first: never spoken before anyone, then least recently."""
    room.ok("ana", c.Post("hi"))
    room.now += 10
    room.ok("ben", c.Post("hello"))
    [started, _] = room.ok("keeper", c.StartRound(order="quietest")).events
    assert isinstance(started, e.RoundStarted)
    assert started.order == ("cai", "ana", "ben")


def test_only_the_holder_and_facilitators_speak_others_may_react(room: Room) -> None:
    """While Ana holds the piece, Ben is gently told it's her turn; reacting still works."""
    room.ok("keeper", c.StartRound())
    message = room.ok("ana", c.Post("I had a hard week")).reply["message"]
    assert room.refused("ben", c.Post("me too")) == "not_your_turn"
    room.ok("ben", c.React(message, "me_too"))
    room.ok("keeper", c.Post("Thank you, Ana."))


def test_done_pass_and_timed_out_are_distinct_and_passers_get_another_chance(
    open_room: Room,
) -> None:
    """Ana is done, Ben passes, Cai times out; the piece returns to Ben only."""
    open_room.ok("keeper", c.StartRound(turn_seconds=60))
    open_room.ok("ana", c.Done())
    t = open_room.ok("ben", c.Pass())
    assert [(ev.type, getattr(ev, "outcome", None)) for ev in t.events][:2] == [
        ("turn_ended", "passed"),
        ("turn", None),
    ]
    open_room.now += 60
    t = open_room.ok(None, c.Tick())
    ended, chance = t.events
    assert isinstance(ended, e.TurnEnded)
    assert (ended.user_id, ended.outcome) == ("cai", "timed_out")
    assert isinstance(chance, e.Turn)
    assert (chance.user_id, chance.second_chance) == ("ben", True)
    t = open_room.ok("ben", c.Done())
    [_, finished] = t.events
    assert isinstance(finished, e.RoundEnded)
    assert finished.by is None
    assert [(o.user_id, o.outcome, o.second_chance) for o in finished.summary] == [
        ("ana", "done", None),
        ("ben", "passed", "done"),
        ("cai", "timed_out", None),
    ]
    actions = [fx.action for fx in t.effects if isinstance(fx, e.RecordModeration)]
    assert actions == ["turn_done", "round_ended"]


def test_passing_needs_no_reason_and_is_always_allowed(room: Room) -> None:
    """A pass the instant the piece arrives is accepted like any other."""
    room.ok("keeper", c.StartRound())
    t = room.ok("ana", c.Pass())
    assert t.error is None
    assert room.state.stats_of("ana").passes == 1


def test_only_the_holder_can_say_done_or_pass(room: Room) -> None:
    """Done and pass belong to whoever holds the piece."""
    assert room.refused("ana", c.Done()) == "no_round"
    room.ok("keeper", c.StartRound())
    assert room.refused("ben", c.Pass()) == "not_your_turn"
    assert room.refused("keeper", c.Done()) == "not_your_turn"


def test_choosing_to_listen_while_holding_is_a_pass(room: Room) -> None:
    """Switching to listening with the piece in hand passes it on."""
    room.ok("keeper", c.StartRound())
    t = room.ok("ana", c.SetMode("listener"))
    assert [ev.type for ev in t.events] == ["mode", "turn_ended", "turn"]
    assert room.state.round is not None
    assert room.state.round.holder == "ben"


def test_a_holder_who_drops_keeps_the_turn_one_who_leaves_is_skipped(room: Room) -> None:
    """A dropped connection keeps the piece through the grace period; leaving moves it on."""
    room.ok("keeper", c.StartRound())
    room.ok("ana", c.Disconnect("ana-conn"))
    room.now += 30
    room.ok("ana", c.Join("ana-again", "Ana", "member"))
    assert room.state.round is not None
    assert room.state.round.holder == "ana"
    room.ok("ana", c.Done())
    t = room.ok("ben", c.Leave())
    assert [(ev.type, getattr(ev, "outcome", None)) for ev in t.events][:2] == [
        ("turn_ended", "left"),
        ("turn", None),
    ]


def test_late_arrivals_wait_at_the_door_until_the_share_ends(room: Room) -> None:
    """Dee arrives mid-share: she sees nothing until the turn ends, then joins listening."""
    room.ok("keeper", c.StartRound())
    t = room.ok("dee", c.Join("dee-conn", "Dee", "member"))
    assert t.reply["waiting"] == "door"
    assert t.events == []
    [arrival] = t.notices
    assert (arrival.type, arrival.to) == ("arrival", ("keeper",))
    assert "dee" not in room.state.participants
    t = room.ok("ana", c.Done())
    kinds = [ev.type for ev in t.events]
    assert kinds == ["turn_ended", "joined", "turn"]
    [admitted] = private(t)
    assert (admitted.to, admitted.type, admitted.gate) == (("dee",), "admitted", False)
    assert admitted.seq == t.events[1].seq  # opens right after her own arrival
    assert admitted.body()["you"]["mode"] == "listener"
    assert room.state.participants["dee"].mode == "listener"


def test_facilitator_skips_reorders_and_ends(open_room: Room) -> None:
    """Skip moves the piece on; reorder changes who's next; ending marks the rest not reached."""
    open_room.ok("keeper", c.StartRound())
    assert open_room.refused("keeper", c.ReorderRound(("ben",))) == "invalid"
    open_room.ok("keeper", c.ReorderRound(("cai", "ben")))
    t = open_room.ok("keeper", c.SkipTurn())
    assert turn_holders(t.events) == ["cai"]
    t = open_room.ok("keeper", c.EndRound())
    [ended] = [ev for ev in t.events if isinstance(ev, e.RoundEnded)]
    assert ended.by == "keeper"
    assert {o.user_id: o.outcome for o in ended.summary} == {
        "ana": "skipped",
        "ben": "not_reached",
        "cai": "skipped",
    }
    assert open_room.state.round is None


def test_a_round_needs_someone_who_chose_to_share() -> None:
    """With only listeners present there's nobody to offer the piece to."""
    room = Room()
    room.join("lis")
    assert room.refused("keeper", c.StartRound()) == "no_sharers"


def test_turn_timer_bounds() -> None:
    """A turn timer is between thirty seconds and thirty minutes."""
    room = Room()
    room.sharer("ana")
    assert room.refused("keeper", c.StartRound(turn_seconds=5)) == "invalid"
    assert room.refused("keeper", c.StartRound(turn_seconds=7200)) == "invalid"


def test_the_piece_skips_who_cannot_speak(room: Room) -> None:
    """A muted member, or one yet to affirm the agreement, isn't handed the piece."""
    room.ok("keeper", c.Mute("ben", minutes=10))
    room.ok("dan", c.Join("dan-conn", "Dan", "member"))
    room.ok("dan", c.SetMode("sharer"))  # sharing, but hasn't affirmed the agreement
    [started, _] = room.ok("keeper", c.StartRound()).events
    assert isinstance(started, e.RoundStarted)
    assert started.order == ("ana", "cai")


def test_the_turn_timer_stops_while_paused_and_starts_afresh(open_room: Room) -> None:
    """Nobody times out while the group is paused; after it, the holder gets full time."""
    open_room.ok("keeper", c.StartRound(turn_seconds=60))
    open_room.now += 30
    open_room.ok("keeper", c.Pause())
    open_room.now += 120
    assert open_room.state.round is not None
    assert open_room.ok(None, c.Tick()).events == []
    open_room.ok("keeper", c.Resume())
    open_room.now += 59
    assert open_room.ok(None, c.Tick()).events == []
    open_room.now += 1
    [ended, _] = open_room.ok(None, c.Tick()).events
    assert isinstance(ended, e.TurnEnded)
    assert ended.outcome == "timed_out"


def test_ending_a_round_ends_the_holders_turn_visibly(room: Room) -> None:
    """Ending mid-turn says the holder's turn ended before the round's summary."""
    room.ok("keeper", c.StartRound())
    t = room.ok("keeper", c.EndRound())
    assert [ev.type for ev in t.events] == ["turn_ended", "round_ended"]


def test_admitting_during_a_share_waits_for_it_to_end() -> None:
    """A facilitator admitting someone mid-share lets them in when the share ends."""
    from dataclasses import replace

    room = Room(RoomState(config=replace(config(capacity=8), waiting_room=True), epoch="e1"))
    room.state.admitted.add("ana")
    room.sharer("ana")
    room.ok("keeper", c.StartRound())
    room.ok("amy", c.Join("amy-conn", "Amy", "member"))
    t = room.ok("keeper", c.Admit("amy"))
    assert t.reply["at_door"] is True
    assert t.events == []
    t = room.ok("ana", c.Done())
    assert "joined" in [ev.type for ev in t.events]
    assert "amy" in room.state.participants


def test_passing_costs_nothing_the_room_hears_only_that_the_piece_moved_on(room: Room) -> None:
    """By default a pass, a timeout and a skip all read ``moved_on`` to the room; the
    facilitators get the real outcome privately, and each member sees their own."""
    room.ok("keeper", c.StartRound(turn_seconds=60))
    t = room.ok("ana", c.Pass())
    ended = t.events[0]
    assert isinstance(ended, e.TurnEnded)
    assert (ended.user_id, ended.outcome) == ("ana", "moved_on")
    [told] = private(t)
    assert (told.to, told.type) == (("keeper",), "turn_outcome")
    assert told.body() == {"user_id": "ana", "outcome": "passed", "second_chance": False}
    outcomes = {
        viewer: snapshot(room.state, viewer, room.now)["round"]["outcomes"]
        for viewer in ("keeper", "ana", "ben")
    }
    assert outcomes == {
        "keeper": {"ana": "passed"},
        "ana": {"ana": "passed"},  # their own
        "ben": {"ana": "moved_on"},
    }
    room.ok("ben", c.Done())
    room.ok("cai", c.Done())
    t = room.ok("ana", c.Done())  # the second chance: passing first cost her nothing
    finished = t.events[-1]
    assert isinstance(finished, e.RoundEnded)
    assert [(o.user_id, o.outcome, o.second_chance) for o in finished.summary] == [
        ("ana", "moved_on", "done"),
        ("ben", "done", None),
        ("cai", "done", None),
    ]
    assert "passed" not in {o.outcome for o in finished.summary}


def test_a_shared_turn_needs_no_private_notice(room: Room) -> None:
    """Done is what the room hears anyway: nothing extra goes to the facilitators."""
    room.ok("keeper", c.StartRound())
    assert private(room.ok("ana", c.Done())) == []


def test_starting_a_round_counts_for_the_summary(room: Room) -> None:
    """The end-of-session summary says how many rounds were held."""
    room.ok("keeper", c.StartRound())
    room.ok("keeper", c.EndRound())
    room.ok("keeper", c.StartRound())
    assert room.state.rounds_held == 2
