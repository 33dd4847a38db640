"""The room core, driven directly: commands in, events out, no sockets."""

from __future__ import annotations

import pytest

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core.views import snapshot
from tests.core.helpers import T0, Room, config


@pytest.fixture
def room() -> Room:
    return Room()


def test_everyone_arrives_listening_and_is_visible(room: Room) -> None:
    """A new member arrives as a listener, and everyone present sees them with that mode."""
    t = room.ok("sam", c.Join("c1", "Sam", "member"))
    assert room.types(t) == ["session_started", "joined"]  # the first command opens the session
    joined = t.events[-1]
    assert isinstance(joined, e.Joined)
    assert joined.participant.mode == "listener"
    view = snapshot(room.state, "sam", room.now)
    assert [(p["name"], p["mode"]) for p in view["participants"]] == [
        ("Keeper", "listener"),
        ("Sam", "listener"),
    ]


def test_capacity_counts_members_not_facilitators(room: Room) -> None:
    """Only members take seats; facilitators and admins are present outside the cap."""
    room.join("fac", "facilitator")
    for user in ("a", "b", "c"):
        room.join(user)
    assert room.refused("d", c.Join("d1", "D", "member")) == "room_full"
    room.join("admin", "admin")
    assert room.state.members_present() == 3


def test_a_seat_is_held_through_a_dropped_connection(room: Room) -> None:
    """A member who drops and returns within the grace period keeps their seat."""
    for user in ("a", "b", "c"):
        room.join(user)
    t = room.ok("a", c.Disconnect("a-conn"))
    assert room.types(t) == ["away"]
    assert room.refused("d", c.Join("d1", "D", "member")) == "room_full"
    room.now += 60
    t = room.ok("a", c.Join("a-conn2", "A", "member"))
    assert room.types(t) == ["back"]


def test_a_held_seat_is_released_after_the_grace_period(room: Room) -> None:
    """After the grace period the seat frees up and everyone is told why."""
    for user in ("a", "b", "c"):
        room.join(user)
    room.ok("a", c.Disconnect("a-conn"))
    room.now += room.state.config.grace_seconds
    t = room.ok("d", c.Join("d1", "D", "member"))
    assert [(type(ev).__name__, getattr(ev, "reason", None)) for ev in t.events] == [
        ("Left", "timed_out"),
        ("Joined", None),
    ]


def test_a_second_tab_does_not_make_the_member_away(room: Room) -> None:
    """One member may hold several connections; only the last one dropping makes them away."""
    room.join("a")
    assert room.types(room.ok("a", c.Join("tab2", "A", "member"))) == []
    assert room.types(room.ok("a", c.Disconnect("tab2"))) == []
    assert room.types(room.ok("a", c.Disconnect("a-conn"))) == ["away"]


def test_posting_needs_the_agreement_then_opting_in(room: Room) -> None:
    """A member must affirm the agreement and choose to share before posting."""
    room.join("sam")
    assert room.refused("sam", c.Post("hello")) == "agreement_required"
    t = room.ok("sam", c.Agree())
    assert room.types(t) == ["agreed"]
    assert t.effects == [e.RecordAgreement("sam")]
    assert room.refused("sam", c.Post("hello")) == "listening"
    room.ok("sam", c.SetMode("sharer"))
    t = room.ok("sam", c.Post("hello"))
    [message] = t.events
    assert isinstance(message, e.MessagePosted)
    assert (message.name, message.text) == ("Sam", "hello")
    assert t.reply == {"message": message.seq}


def test_agreement_given_earlier_this_session_is_remembered(room: Room) -> None:
    """Affirming once per session is enough, even after leaving and rejoining."""
    room.sharer("sam")
    room.ok("sam", c.Leave())
    room.ok("sam", c.Join("again", "Sam", "member"))
    room.ok("sam", c.SetMode("sharer"))
    room.ok("sam", c.Post("back again"))


def test_sharing_is_reversible(room: Room) -> None:
    """A sharer can go back to listening at any time, and posting stops."""
    room.sharer("sam")
    room.ok("sam", c.SetMode("listener"))
    assert room.refused("sam", c.Post("hello")) == "listening"


def test_what_was_typed_is_what_others_read(room: Room) -> None:
    """Text that looks like markup is kept as typed, with the author's role beside it."""
    room.sharer("sam")
    for typed in ("sending <hugs> to everyone", "x<y and y>z", "<b>fish</b> & chips <3"):
        [message] = room.ok("sam", c.Post(typed)).events
        assert isinstance(message, e.MessagePosted)
        assert (message.text, message.role) == (typed, "member")
    room.join("fac", "facilitator")
    [message] = room.ok("fac", c.Post("welcome")).events
    assert isinstance(message, e.MessagePosted)
    assert message.role == "facilitator"
    shown = snapshot(room.state, "sam", room.now)["messages"]
    assert [m["role"] for m in shown][-2:] == ["member", "facilitator"]


def test_facilitators_post_without_opting_in(room: Room) -> None:
    """Facilitators hold the space: they can post in the lobby, while paused, without opting in."""
    room.state = Room().state
    room.now = T0 - 60  # lobby
    room.join("fac", "facilitator")
    room.ok("fac", c.Post("Welcome, we'll start in a minute."))
    room.ok("fac", c.Pause())
    room.ok("fac", c.Post("Take your time."))


def test_the_lobby_opens_into_the_session_at_start_time(room: Room) -> None:
    """Members wait in the lobby; the session starts by itself at its start time."""
    room.now = T0 - 300
    room.sharer("sam")
    assert room.refused("sam", c.Post("hi")) == "not_started"
    room.now = T0
    t = room.ok(None, c.Tick())
    assert room.types(t) == ["session_started"]
    room.ok("sam", c.Post("hi"))


def test_mute_with_duration_expires_by_the_clock(room: Room) -> None:
    """A timed mute ends by itself, announced to everyone, without a facilitator acting."""
    room.join("fac", "facilitator")
    room.sharer("sam")
    t = room.ok("fac", c.Mute("sam", minutes=5, reason="needs a breather"))
    [muted] = t.events
    assert isinstance(muted, e.Muted)
    assert muted.until == room.now + 300
    assert t.effects == [
        e.RecordModeration("mute", "fac", "sam", "needs a breather", {"minutes": 5})
    ]
    assert room.refused("sam", c.Post("hello")) == "muted"
    room.now += 299
    assert room.refused("sam", c.Post("hello")) == "muted"
    room.now += 1
    t = room.ok(None, c.Tick())
    assert [(ev.type, getattr(ev, "by", "?")) for ev in t.events] == [("unmuted", None)]
    room.ok("sam", c.Post("hello"))


def test_mute_expiry_is_announced_before_a_post_that_races_the_tick(room: Room) -> None:
    """If a post arrives before the tick, the unmute is still announced first."""
    room.join("fac", "facilitator")
    room.sharer("sam")
    room.ok("fac", c.Mute("sam", minutes=1))
    room.now += 61
    assert room.types(room.ok("sam", c.Post("hello"))) == ["unmuted", "message"]


def test_indefinite_mute_until_unmuted(room: Room) -> None:
    """A mute without a duration lasts until a facilitator lifts it."""
    room.join("fac", "facilitator")
    room.sharer("sam")
    [muted] = room.ok("fac", c.Mute("sam")).events
    assert isinstance(muted, e.Muted)
    assert muted.until is None
    room.now += 80 * 60  # well past any timed mute, still within the session
    assert room.refused("sam", c.Post("hello")) == "muted"
    assert room.types(room.ok("fac", c.Unmute("sam"))) == ["unmuted"]
    assert room.refused("fac", c.Unmute("sam")) == "not_muted"


def test_facilitators_cannot_be_muted(room: Room) -> None:
    """Mute is for members; a co-facilitator can't be silenced by another."""
    room.join("fac", "facilitator")
    room.join("co", "facilitator")
    assert room.refused("fac", c.Mute("co")) == "forbidden"


def test_mute_validates_target_and_duration(room: Room) -> None:
    """Unknown targets and impossible durations are refused with clear codes."""
    room.join("fac", "facilitator")
    room.join("sam")
    assert room.refused("fac", c.Mute("nobody")) == "no_such_participant"
    assert room.refused("fac", c.Mute("sam", minutes=0)) == "invalid"
    assert room.refused("fac", c.Mute("sam", minutes=10**6)) == "invalid"


def test_pause_and_resume(room: Room) -> None:
    """While paused only facilitators post; the pause message reaches everyone."""
    room.join("fac", "facilitator")
    room.sharer("sam")
    [paused] = room.ok("fac", c.Pause("Let's take a breath together")).events
    assert isinstance(paused, e.Paused)
    assert paused.message == "Let's take a breath together"
    assert room.refused("sam", c.Post("hi")) == "paused"
    assert room.refused("fac", c.Pause()) == "already_paused"
    room.ok("fac", c.Resume())
    assert room.refused("fac", c.Resume()) == "not_paused"
    room.ok("sam", c.Post("hi"))


def test_reactions_toggle_and_count(room: Room) -> None:
    """Listeners react too; reacting again takes it back; counts carry no names."""
    room.sharer("sam")
    room.join("lee")
    [message] = room.ok("sam", c.Post("today was hard")).events
    t = room.ok("lee", c.React(message.seq, "me_too"))
    [counted] = t.events
    assert isinstance(counted, e.ReactionCounted)
    assert (counted.message, counted.kind, counted.count) == (message.seq, "me_too", 1)
    assert t.reply == {"reacted": True}
    room.ok("sam", c.React(message.seq, "me_too"))
    [counted] = room.ok("lee", c.React(message.seq, "me_too")).events
    assert isinstance(counted, e.ReactionCounted)
    assert counted.count == 1
    assert room.refused("lee", c.React(message.seq, "thumbs_down")) == "invalid"
    assert room.refused("lee", c.React(9999, "heart")) == "no_such_message"


def test_post_rate_limit_with_time(room: Room) -> None:
    """A member's burst is limited; waiting refills; facilitators are exempt."""
    room.join("fac", "facilitator")
    room.sharer("sam")
    burst = int(room.state.config.post_rate.burst)
    for i in range(burst):
        room.ok("sam", c.Post(f"line {i}"))
    t = room.do("sam", c.Post("one more"))
    assert t.error is not None
    assert t.error.code == "rate_limited"
    assert t.error.detail["retry_after"] >= 1
    room.now += 1 / room.state.config.post_rate.per_second
    room.ok("sam", c.Post("one more"))
    for i in range(burst * 3):
        room.ok("fac", c.Post(f"fac {i}"))


def test_bad_text_is_refused_without_using_the_rate_limit(room: Room) -> None:
    """Empty or oversized text is refused and costs nothing."""
    room.sharer("sam")
    assert room.refused("sam", c.Post("   \n ")) == "empty"
    assert room.refused("sam", c.Post("x" * 5000)) == "too_long"
    for i in range(int(room.state.config.post_rate.burst)):
        room.ok("sam", c.Post(f"line {i}"))


def test_scheduled_end_ends_the_session(room: Room) -> None:
    """At the scheduled end everyone is told and the session asks to be dropped."""
    room.sharer("sam")
    room.now = room.state.config.ends_at
    t = room.ok(None, c.Tick())
    assert room.types(t) == ["session_ended"]
    assert t.ended
    assert room.refused("sam", c.Post("still here?")) == "session_ended"


def test_facilitator_ends_the_session(room: Room) -> None:
    """A facilitator can end the session early; it is recorded."""
    room.join("fac", "facilitator")
    t = room.ok("fac", c.EndSession())
    assert t.ended
    assert room.types(t) == ["session_ended"]
    counts = {"members": 0, "rounds": 0, "shares": 0, "passes": 0, "messages": 0,
              "whispers": 0, "removals": 0}  # fmt: skip
    assert t.effects == [e.RecordModeration("session_ended", "fac", detail=counts)]


def test_a_refused_command_keeps_the_time_driven_events(room: Room) -> None:
    """Housekeeping events before a refused command are still in the transition."""
    room.join("fac", "facilitator")
    room.sharer("sam")
    room.ok("fac", c.Mute("sam", minutes=1))
    room.ok("fac", c.Pause())
    room.now += 61
    t = room.do("sam", c.Post("hi"))
    assert t.error is not None
    assert t.error.code == "paused"
    assert room.types(t) == ["unmuted"]


def test_commands_from_someone_not_present_are_refused(room: Room) -> None:
    """Only participants present can act in the room."""
    assert room.refused("ghost", c.Post("boo")) == "not_present"


def test_message_buffer_is_bounded() -> None:
    """Only the most recent messages are kept for newcomers."""
    room = Room()
    room.state = Room().state
    room.state.config = config(message_buffer=3)
    room.join("fac", "facilitator")
    for i in range(5):
        room.ok("fac", c.Post(f"m{i}"))
    assert [m.text for m in room.state.messages.values()] == ["m2", "m3", "m4"]


def test_snapshot_shows_reactions_counts_and_the_viewers_own(room: Room) -> None:
    """The snapshot has counts for everyone and marks only the viewer's own reactions."""
    room.sharer("sam")
    room.join("lee")
    [message] = room.ok("sam", c.Post("hello")).events
    room.ok("lee", c.React(message.seq, "heart"))
    view = snapshot(room.state, "sam", room.now)
    [m] = view["messages"]
    assert m["reactions"] == {"heart": 1}
    assert m["mine"] == []
    assert snapshot(room.state, "lee", room.now)["messages"][0]["mine"] == ["heart"]
    assert view["you"]["agreed"] is True
    assert view["seq"] == room.state.seq
