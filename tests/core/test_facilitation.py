"""The facilitator's tools and the care features, in the pure core."""

from __future__ import annotations

from dataclasses import replace

import pytest

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core.state import RoomState
from holdspace.core.views import snapshot
from tests.core.helpers import Room, config


@pytest.fixture
def room() -> Room:
    room = Room(RoomState(config=config(capacity=8), epoch="e1"))
    room.sharer("sam")
    room.join("lee")
    return room


def test_the_room_pauses_itself_without_a_facilitator_and_resumes_when_one_returns(
    room: Room,
) -> None:
    """Never a live group without its keeper, and members are told why."""
    t = room.ok("keeper", c.Disconnect("keeper-conn"))
    paused = t.events[-1]
    assert isinstance(paused, e.Paused)
    assert (paused.by, paused.reason) == (None, "no_facilitator")
    assert paused.message == "The group is paused until a facilitator is back."
    assert room.refused("sam", c.Post("hello?")) == "paused"
    t = room.ok("keeper", c.Join("keeper-again", "Keeper", "facilitator"))
    assert [ev.type for ev in t.events] == ["back", "resumed"]
    room.ok("sam", c.Post("welcome back"))


def test_a_facilitators_own_pause_outlasts_their_absence(room: Room) -> None:
    """Coming back doesn't lift a pause a facilitator chose; they resume it themselves."""
    room.ok("keeper", c.Pause("Let's take a breath together"))
    room.ok("keeper", c.Disconnect("keeper-conn"))
    t = room.ok("keeper", c.Join("keeper-again", "Keeper", "facilitator"))
    assert [ev.type for ev in t.events] == ["back"]
    assert room.state.pause is not None


def test_removal_is_quiet_final_for_the_session_and_can_bar(room: Room) -> None:
    """The room sees someone is no longer here; they are told kindly; they can't come back."""
    t = room.ok("keeper", c.Remove("lee", bar=True, reason="abusive messages"))
    [left] = t.events
    assert isinstance(left, e.Left)
    assert left.reason == "removed"
    [notice] = t.notices
    assert (notice.to, notice.type, notice.gate) == (("lee",), "removed", True)
    assert "step out" in notice.body()["message"]
    assert e.BarMember("lee", "keeper", "abusive messages") in t.effects
    assert room.refused("lee", c.Join("lee-2", "Lee", "member")) == "removed"
    assert room.refused("sam", c.Remove("keeper")) == "forbidden"
    assert room.refused("keeper", c.Remove("keeper")) == "forbidden"


def test_redaction_erases_text_everywhere(room: Room) -> None:
    """A redacted message's text is gone from state, and its log entry is rewritten."""
    seq = room.ok("sam", c.Post("something I regret")).reply["message"]
    room.ok("lee", c.React(seq, "heart"))
    t = room.ok("keeper", c.Redact(seq, reason="shared someone's name"))
    [redacted] = t.events
    assert isinstance(redacted, e.Redacted)
    assert redacted.message == seq
    [rewritten] = t.replaced
    assert isinstance(rewritten, e.MessagePosted)
    assert (rewritten.seq, rewritten.text, rewritten.redacted) == (seq, None, True)
    [m] = snapshot(room.state, "lee", room.now)["messages"]
    assert (m["text"], m["redacted"], m["reactions"]) == (None, True, {})
    assert room.refused("lee", c.React(seq, "heart")) == "no_such_message"
    assert room.refused("keeper", c.Redact(seq)) == "no_such_message"


def test_locking_keeps_new_arrivals_out_but_not_returning_members(room: Room) -> None:
    """A locked door turns away newcomers; members with a held seat and facilitators come in."""
    room.ok("keeper", c.Lock())
    assert room.refused("new", c.Join("n1", "New", "member")) == "locked"
    room.ok("lee", c.Disconnect("lee-conn"))
    room.ok("lee", c.Join("lee-again", "Lee", "member"))
    room.ok("co", c.Join("co-conn", "Co", "facilitator"))
    room.ok("keeper", c.Unlock())
    room.ok("new", c.Join("n1", "New", "member"))


def test_the_waiting_room_admits_or_declines() -> None:
    """With a waiting room, arrivals wait unseen until a facilitator admits or declines them."""
    room = Room(RoomState(config=replace(config(capacity=8), waiting_room=True), epoch="e1"))
    t = room.ok("amy", c.Join("amy-conn", "Amy", "member"))
    assert t.reply["waiting"] == "waiting_room"
    [arrival] = t.notices
    assert (arrival.to, arrival.type) == (("keeper",), "arrival")
    assert snapshot(room.state, "keeper", room.now)["waiting"][0]["name"] == "Amy"
    t = room.ok("keeper", c.Admit("amy"))
    [joined] = t.events
    assert isinstance(joined, e.Joined)
    [admitted] = t.notices
    assert (admitted.type, admitted.gate, admitted.seq) == ("admitted", False, joined.seq)
    room.ok("amy", c.Disconnect("amy-conn"))
    room.ok("amy", c.Join("amy-2", "Amy", "member"))  # admitted once is enough
    room.ok("bo", c.Join("bo-conn", "Bo", "member"))
    t = room.ok("keeper", c.Decline("bo"))
    [declined] = t.notices
    assert (declined.to, declined.type, declined.gate) == (("bo",), "declined", True)
    assert "bo" not in room.state.waiting


def test_whispers_reach_only_facilitators_and_leave_no_trace_in_the_room(room: Room) -> None:
    """A whisper is a notice to facilitators: no event, no seq, not in a member's snapshot."""
    before = room.state.seq
    t = room.ok("lee", c.Whisper("I need a moment"))
    assert t.events == []
    assert room.state.seq == before
    [note] = t.notices
    assert note.to == ("keeper",)
    assert note.body()["text"] == "I need a moment"
    assert t.reply["facilitators_present"] is True
    assert snapshot(room.state, "keeper", room.now)["whispers"][0]["text"] == "I need a moment"
    assert snapshot(room.state, "sam", room.now)["whispers"] == []  # not even a count
    [own] = snapshot(room.state, "lee", room.now)["whispers"]  # their own thread
    assert (own["text"], own["by"]) == ("I need a moment", None)


def test_who_reacted_is_for_the_author_and_facilitators(room: Room) -> None:
    """Everyone sees counts; names go only to the author and the facilitators."""
    seq = room.ok("sam", c.Post("today was hard")).reply["message"]
    room.ok("lee", c.React(seq, "me_too"))
    assert room.ok("sam", c.WhoReacted(seq)).reply["reactions"] == {"me_too": ["Lee"]}
    assert room.ok("keeper", c.WhoReacted(seq)).reply["reactions"] == {"me_too": ["Lee"]}
    assert room.refused("lee", c.WhoReacted(seq)) == "forbidden"


def test_content_warnings_travel_with_the_message(room: Room) -> None:
    """A post marked sensitive says so in its event and in snapshots."""
    [posted] = room.ok("sam", c.Post("about the accident", sensitive=True)).events
    assert isinstance(posted, e.MessagePosted)
    assert posted.sensitive is True
    assert snapshot(room.state, "lee", room.now)["messages"][0]["sensitive"] is True


def test_hands_queue_first_come_and_the_floor(room: Room) -> None:
    """Hands form a visible queue; the floor goes to the first; facilitators can clear them."""
    room.ok("lee", c.RaiseHand())
    [raised] = room.ok("sam", c.RaiseHand()).events
    assert isinstance(raised, e.HandRaised)
    assert raised.queue == ("lee", "sam")
    [floor] = room.ok("keeper", c.GiveFloor()).events
    assert isinstance(floor, e.FloorGiven)
    assert (floor.user_id, floor.queue) == ("lee", ("sam",))
    assert room.refused("lee", c.LowerHand("sam")) == "forbidden"
    room.ok("keeper", c.ClearHands())
    assert room.state.hands == []
    assert room.refused("keeper", c.GiveFloor()) == "no_hands"


def test_slow_mode_spaces_members_posts(room: Room) -> None:
    """In slow mode a member waits between posts; facilitators don't."""
    room.ok("keeper", c.SlowMode(30))
    room.ok("sam", c.Post("one"))
    t = room.do("sam", c.Post("two"))
    assert t.error is not None
    assert (t.error.code, t.error.detail["retry_after"]) == ("slow_mode", 30)
    room.ok("keeper", c.Post("a"))
    room.ok("keeper", c.Post("b"))
    room.now += 30
    room.ok("sam", c.Post("two"))
    room.ok("keeper", c.SlowMode(0))
    room.ok("sam", c.Post("three"))


def test_participation_balance_for_facilitators(room: Room) -> None:
    """Turns, passes, posts and time since each member last spoke, for facilitators only."""
    room.sharer("kim")
    room.ok("keeper", c.StartRound())
    room.ok("sam", c.Post("my share"))
    room.ok("sam", c.Done())
    room.ok("kim", c.Pass())
    room.now += 120
    rows = {r["name"]: r for r in room.ok("keeper", c.Balance()).reply["members"]}
    assert (rows["Sam"]["turns"], rows["Sam"]["posts"], rows["Sam"]["seconds_since_spoke"]) == (
        1, 1, 120,
    )  # fmt: skip
    assert (rows["Kim"]["passes"], rows["Kim"]["last_spoke_at"]) == (1, None)
    assert rows["Lee"]["mode"] == "listener"
    assert "Keeper" not in rows
    assert room.refused("sam", c.Balance()) == "forbidden"


def test_crisis_resources_on_request(room: Room) -> None:
    """Anyone present can ask for the crisis resources at any time."""
    room.state.config = replace(room.state.config, crisis_resources="Call 988.")
    assert room.ok("lee", c.Crisis()).reply["crisis_resources"] == "Call 988."


def test_whisper_ids_count_only_your_own(room: Room) -> None:
    """A member can't learn from their whisper ids how many others whispered."""
    assert room.ok("lee", c.Whisper("one")).reply["whisper"] == "lee-1"
    room.ok("sam", c.Whisper("mine"))
    assert room.ok("lee", c.Whisper("two")).reply["whisper"] == "lee-2"


def test_people_waiting_outside_hear_when_it_ends_or_leave() -> None:
    """Facilitators learn when an arrival gives up; arrivals learn when the session ends."""
    room = Room(RoomState(config=replace(config(capacity=8), waiting_room=True), epoch="e1"))
    room.ok("amy", c.Join("amy-conn", "Amy", "member"))
    [gone] = room.ok("amy", c.Disconnect("amy-conn")).notices
    assert (gone.to, gone.type, gone.body()) == (("keeper",), "arrival_left", {"user_id": "amy"})
    room.ok("bob", c.Join("bob-conn", "Bob", "member"))
    assert room.ok("bob", c.Crisis()).reply["crisis_resources"] == ""  # even from outside
    t = room.ok("keeper", c.EndSession())
    [over, summary] = t.notices
    assert (over.to, over.type, over.gate) == (("bob",), "session_over", True)
    assert (summary.to, summary.type) == (("keeper",), "session_summary")


def test_names_outlive_presence(room: Room) -> None:
    """Who reacted and the balance still name people who have since left."""
    seq = room.ok("sam", c.Post("thanks all")).reply["message"]
    room.ok("lee", c.React(seq, "heart"))
    room.ok("lee", c.Leave())
    assert room.ok("sam", c.WhoReacted(seq)).reply["reactions"] == {"heart": ["Lee"]}
    rows = {r["user_id"]: r for r in room.ok("keeper", c.Balance()).reply["members"]}
    assert (rows["lee"]["name"], rows["lee"]["present"]) == ("Lee", False)


def test_leaving_lowers_a_raised_hand_visibly(room: Room) -> None:
    """A raised hand disappears with its owner, and everyone sees the queue change."""
    room.ok("lee", c.RaiseHand())
    t = room.ok("lee", c.Leave())
    assert [ev.type for ev in t.events] == ["hand_lowered", "left"]


def test_removal_shuts_the_door_before_the_departure_is_announced(room: Room) -> None:
    """The removed person's connection is gated before their own departure events."""
    t = room.ok("keeper", c.Remove("lee"))
    [notice] = t.notices
    assert notice.seq is not None
    assert notice.seq < t.events[0].seq


def test_slow_mode_counts_only_posts_since_it_began(room: Room) -> None:
    """Turning on slow mode doesn't make someone wait for a post they made before."""
    room.ok("sam", c.Post("before"))
    room.now += 1
    room.ok("keeper", c.SlowMode(60))
    room.now += 1
    room.ok("sam", c.Post("right after"))
    assert room.refused("sam", c.Post("too soon")) == "slow_mode"


def test_i_need_a_moment_needs_no_words(room: Room) -> None:
    """A whisper without text still reaches the facilitators: asking never needs a sentence."""
    for words in (None, "   ", "\u200b\u202e"):
        [note] = room.ok("lee", c.Whisper(words)).notices
        assert (note.type, note.body()["text"], note.body()["by"]) == ("whisper", None, None)


def test_whispers_never_wait_behind_posts(room: Room) -> None:
    """A member who used up their posts can still ask for a moment."""
    while room.do("sam", c.Post("again")).error is None:
        pass
    room.ok("sam", c.Whisper("I need a moment"))


def test_a_facilitator_answers_a_whisper_privately(room: Room) -> None:
    """The reply reaches the member and the other facilitators, in the member's thread; the
    room learns nothing, and a member can't send replies."""
    room.join("co", "facilitator")
    room.ok("lee", c.Whisper("Could we slow down?"))
    before = room.state.seq
    t = room.ok("keeper", c.WhisperReply("lee", "Of course. Take your time."))
    assert t.events == []
    assert room.state.seq == before
    [reply] = t.notices
    assert (set(reply.to), reply.type) == ({"lee", "keeper", "co"}, "whisper")
    assert (reply.body()["user_id"], reply.body()["by"], reply.body()["by_name"]) == (
        "lee", "keeper", "Keeper",
    )  # fmt: skip
    thread = snapshot(room.state, "lee", room.now)["whispers"]
    assert [(w["text"], w["by"]) for w in thread] == [
        ("Could we slow down?", None),
        ("Of course. Take your time.", "keeper"),
    ]
    assert snapshot(room.state, "sam", room.now)["whispers"] == []
    assert room.refused("sam", c.WhisperReply("lee", "hi")) == "forbidden"
    assert room.refused("keeper", c.WhisperReply("co", "hi")) == "no_such_participant"
    assert room.refused("keeper", c.WhisperReply("nobody", "hi")) == "no_such_participant"


def test_the_waiting_room_can_be_turned_on_mid_session(room: Room) -> None:
    """From the moment it is on, arrivals wait; those already in stay in."""
    [on] = room.ok("keeper", c.SetWaitingRoom(True)).events
    assert isinstance(on, e.WaitingRoomSet)
    assert (on.on, on.by) == (True, "keeper")
    assert snapshot(room.state, "sam", room.now)["session"]["waiting_room"] is True
    t = room.ok("amy", c.Join("amy-conn", "Amy", "member"))
    assert t.reply["waiting"] == "waiting_room"
    assert room.ok("keeper", c.SetWaitingRoom(True)).events == []  # already on
    assert room.refused("sam", c.SetWaitingRoom(False)) == "forbidden"


def test_turning_the_waiting_room_off_lets_in_whoever_fits(room: Room) -> None:
    """Everyone waiting comes in, as far as there are seats; the rest can still be admitted."""
    room.state.config = replace(room.state.config, capacity=3)  # sam and lee are in
    room.ok("keeper", c.SetWaitingRoom(True))
    room.ok("amy", c.Join("amy-conn", "Amy", "member"))
    room.ok("bob", c.Join("bob-conn", "Bob", "member"))
    t = room.ok("keeper", c.SetWaitingRoom(False))
    assert room.types(t) == ["waiting_room", "joined"]
    assert [n.type for n in t.notices] == ["admitted"]
    assert "amy" in room.state.participants
    assert list(room.state.waiting) == ["bob"]


def test_settings_saved_elsewhere_reach_the_live_session(room: Room) -> None:
    """A facilitator who changes the group's settings outside the room changes this session
    too, from that moment; the record says who."""
    t = room.ok("robin", c.Reconfigure(waiting_room=True))
    [on] = t.events
    assert isinstance(on, e.WaitingRoomSet)
    assert on.by == "robin"
    assert t.effects == [e.RecordModeration("waiting_room_on", "robin")]


def test_the_end_of_session_summary_counts_and_never_quotes(room: Room) -> None:
    """Facilitators get who came and how it went in numbers; the record keeps the numbers."""
    room.ok("sam", c.Post("something private"))
    room.ok("lee", c.Whisper("a private worry"))
    room.ok("keeper", c.StartRound())
    room.ok("sam", c.Pass())
    room.join("amy")
    room.ok("keeper", c.Remove("amy"))
    t = room.ok("keeper", c.EndSession())
    [summary] = t.notices
    assert (summary.to, summary.type) == (("keeper",), "session_summary")
    counts = {"members": 3, "rounds": 1, "shares": 0, "passes": 1, "messages": 1,
              "whispers": 1, "removals": 1}  # fmt: skip
    assert summary.body() == {
        **counts,
        "came": [
            {"user_id": "keeper", "name": "Keeper", "role": "facilitator"},
            {"user_id": "sam", "name": "Sam", "role": "member"},
            {"user_id": "lee", "name": "Lee", "role": "member"},
            {"user_id": "amy", "name": "Amy", "role": "member"},
        ],
    }
    assert "private" not in repr(summary.body())
    [ended] = [fx for fx in t.effects if isinstance(fx, e.RecordModeration)]
    assert (ended.action, ended.detail) == ("session_ended", counts)
