"""Property-based tests of the room's invariants, whatever members and time do."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core.policy import post_block, post_state
from holdspace.core.room import Transition, apply, next_deadline
from holdspace.core.state import RoomState
from holdspace.live.redis import codec
from holdspace.live.redis.state import changed_parts, stored
from tests.core.helpers import T0, config

MEMBERS = ["m1", "m2", "m3", "m4", "m5"]
STAFF = ["f1", "a1"]
PEOPLE = MEMBERS + STAFF
people = st.sampled_from(PEOPLE)
members = st.sampled_from(MEMBERS)


class RoomMachine(RuleBasedStateMachine):
    """Random members, facilitators and clock moves against one room."""

    def __init__(self) -> None:
        super().__init__()
        self.state = RoomState(config=config(capacity=3, message_buffer=6), epoch="e")
        self.now = T0 - 120
        self.last_seq = 0
        self.conns = 0
        self.told: dict[str, str | None] = {}  # what each member's composer was last told
        self.applied: set[tuple[str | None, str]] = set()  # (who, client id) posts that landed

    def run(self, actor: str | None, cmd: c.Command, cid: str | None = None) -> None:
        encoded = {seq: codec.message_json(m) for seq, m in self.state.messages.items()}
        stored_before = codec.to_parts(self.state)
        self.state.messages.track()
        self.state.receipts.track()
        applied_before = cid is not None and (actor, cid) in self.applied
        due_before = next_deadline(self.state)
        t = apply(self.state, actor, cmd, self.now, cid)
        # What a hub indexes: the session's next moment, and whether the step brought
        # it forward (then the index must move).
        assert t.deadline == next_deadline(self.state)
        if t.deadline is not None and due_before is not None and not t.sooner:
            assert t.deadline >= due_before
        if applied_before:
            # Sent again with the same client id: the first answer, and nothing applied.
            assert t.reply.get("repeated") is True
            assert not any(isinstance(ev, e.MessagePosted) for ev in t.events)
        elif (
            cid is not None
            and t.error is None
            and any(isinstance(ev, e.MessagePosted) for ev in t.events)
        ):
            self.applied.add((actor, cid))
        # A hub that stores messages apart rewrites what the buffer noted: every message
        # new or changed by the step, and none let go of but those it says were dropped.
        core, whispers = codec.core_json(self.state), codec.whispers_mark(self.state)
        write, gone = changed_parts(stored("1", stored_before), self.state, core, whispers, t)
        written = {int(n[len(codec.MESSAGE) :]) for n in write if n.startswith(codec.MESSAGE)}
        dropped = {int(n[len(codec.MESSAGE) :]) for n in gone if n.startswith(codec.MESSAGE)}
        after = {seq: codec.message_json(m) for seq, m in self.state.messages.items()}
        assert {seq for seq, text in after.items() if encoded.get(seq) != text} <= written
        assert set(encoded) - set(after) == dropped
        if not t.ended:
            # A worker that remembered the state before the step comes to the same state
            # from the parts the step wrote and deleted, as another worker publishes them.
            advanced = codec.advance(codec.from_parts(stored_before), write, gone)
            assert advanced == self.state
        for event in t.events:
            # Sequence numbers strictly increase with no gaps, across every transition.
            assert event.seq == self.last_seq + 1
            self.last_seq = event.seq
            if isinstance(event, e.MessagePosted):
                author = self.state.participants[event.user_id]
                # A muted member never posts; while paused only facilitators post.
                assert not author.muted(self.now)
                assert self.state.pause is None or author.staff
                assert author.staff or author.mode == "sharer"
                assert author.staff or self.state.phase == "live"
                # While someone holds the talking piece, only they and facilitators speak.
                holder = self.state.round.holder if self.state.round else None
                assert holder is None or author.staff or author.user_id == holder
                # ...and while someone has the floor, only they and facilitators.
                floor = self.state.floor
                assert floor is None or author.staff or author.user_id == floor
            if isinstance(event, e.TurnEnded | e.FloorEnded):
                # Passing costs nothing: the room never hears who passed.
                assert event.outcome != "passed"
            if isinstance(event, e.RoundEnded):
                assert all("passed" not in (o.outcome, o.second_chance) for o in event.summary)
            if isinstance(event, e.Turn):
                # The piece goes only to members present and sharing: never to a listener.
                taker = self.state.participants[event.user_id]
                assert not taker.staff
                assert taker.mode == "sharer"
        if isinstance(cmd, c.Whisper) and t.error is None:
            assert t.events == [] or all(not isinstance(ev, e.MessagePosted) for ev in t.events)
            assert all(n.to == self.state.staff_ids() for n in t.notices)
        if t.error is not None:
            assert t.error.code  # refusals always carry a stable code
        self.follow_post_states(t)

    def follow_post_states(self, t: Transition) -> None:
        """What a client knows of its composer: the snapshot's ``post`` when it arrives,
        then each ``post_state`` notice."""
        for n in t.notices:
            if isinstance(n, e.PostState):
                [user] = n.to
                assert user in self.told, "a newcomer's snapshot says it, not a notice"
                self.told[user] = n.code
        present = self.state.participants
        self.told = {u: code for u, code in self.told.items() if u in present}
        for user, p in present.items():
            if user not in self.told:
                self.told[user] = post_state(self.state, p, self.now)["code"]

    @staticmethod
    def role(user: str) -> c.RoomRole:
        return "facilitator" if user == "f1" else "admin" if user == "a1" else "member"

    @rule(user=people)
    def join(self, user: str) -> None:
        self.conns += 1
        self.run(user, c.Join(f"conn{self.conns}", user, self.role(user)))

    @rule(user=people)
    def drop(self, user: str) -> None:
        p = self.state.participants.get(user)
        if p is not None and p.conns:
            self.run(user, c.Disconnect(next(iter(p.conns))))

    @rule(user=people)
    def leave(self, user: str) -> None:
        self.run(user, c.Leave())

    @rule(user=members)
    def agree(self, user: str) -> None:
        self.run(user, c.Agree())

    @rule(user=people, mode=st.sampled_from(["listener", "sharer"]))
    def set_mode(self, user: str, mode: c.Mode) -> None:
        self.run(user, c.SetMode(mode))

    @rule(user=people, text=st.text(max_size=30))
    def post(self, user: str, text: str) -> None:
        self.run(user, c.Post(text or "hi"))

    @rule(user=people, cid=st.sampled_from(["a", "b", "c"]))
    def post_with_a_client_id(self, user: str, cid: str) -> None:
        """Sent once or again, as a client retrying after a lost answer would."""
        self.run(user, c.Post(f"said once as {cid}"), cid)

    @precondition(lambda self: bool(self.state.messages))
    @rule(user=people, kind=st.sampled_from(c.REACTIONS), data=st.data())
    def react(self, user: str, kind: str, data: st.DataObject) -> None:
        seq = data.draw(st.sampled_from(sorted(self.state.messages)))
        self.run(user, c.React(seq, kind))

    @rule(actor=people, whom=members, minutes=st.none() | st.integers(1, 30))
    def mute(self, actor: str, whom: str, minutes: int | None) -> None:
        self.run(actor, c.Mute(whom, minutes))

    @rule(actor=people, whom=members)
    def unmute(self, actor: str, whom: str) -> None:
        self.run(actor, c.Unmute(whom))

    @rule(actor=people)
    def pause(self, actor: str) -> None:
        self.run(actor, c.Pause())

    @rule(actor=people)
    def resume(self, actor: str) -> None:
        self.run(actor, c.Resume())

    @rule(actor=people, order=st.sampled_from(["arrival", "quietest"]),
          timer=st.none() | st.just(60))  # fmt: skip
    def start_round(self, actor: str, order: c.RoundOrder, timer: int | None) -> None:
        self.run(actor, c.StartRound("check_in", None, order, timer))

    @rule(user=people)
    def done(self, user: str) -> None:
        self.run(user, c.Done())

    @rule(user=people)
    def pass_(self, user: str) -> None:
        self.run(user, c.Pass())

    @rule(actor=people)
    def skip(self, actor: str) -> None:
        self.run(actor, c.SkipTurn())

    @rule(actor=people)
    def end_round(self, actor: str) -> None:
        self.run(actor, c.EndRound())

    @rule(user=people)
    def raise_hand(self, user: str) -> None:
        self.run(user, c.RaiseHand())

    @rule(actor=people, whom=st.none() | people)
    def give_floor(self, actor: str, whom: str | None) -> None:
        self.run(actor, c.GiveFloor(whom))

    @rule(actor=people)
    def end_floor(self, actor: str) -> None:
        self.run(actor, c.EndFloor())

    @rule(actor=people, on=st.booleans())
    def set_waiting_room(self, actor: str, on: bool) -> None:
        self.run(actor, c.SetWaitingRoom(on))

    @rule(on=st.booleans())
    def settings_change(self, on: bool) -> None:
        self.run("f1", c.Reconfigure(waiting_room=on))

    @rule(actor=people, whom=members)
    def admit(self, actor: str, whom: str) -> None:
        self.run(actor, c.Admit(whom))

    @rule(actor=people, whom=members)
    def reply(self, actor: str, whom: str) -> None:
        before = self.state.seq
        self.run(actor, c.WhisperReply(whom, "We're here."))
        assert self.state.seq == before

    @rule(actor=people, whom=members, bar=st.booleans())
    def remove(self, actor: str, whom: str, bar: bool) -> None:
        self.run(actor, c.Remove(whom, bar))

    @rule(actor=people, lock=st.booleans())
    def lock(self, actor: str, lock: bool) -> None:
        self.run(actor, c.Lock() if lock else c.Unlock())

    @rule(user=people, words=st.sampled_from([None, "", "I need a moment"]))
    def whisper(self, user: str, words: str | None) -> None:
        before = self.state.seq
        self.run(user, c.Whisper(words))
        assert self.state.seq == before  # nobody learns a whisper happened

    @precondition(lambda self: bool(self.state.messages))
    @rule(actor=people, data=st.data())
    def redact(self, actor: str, data: st.DataObject) -> None:
        seq = data.draw(st.sampled_from(sorted(self.state.messages)))
        self.run(actor, c.Redact(seq))

    @rule(seconds=st.floats(0, 900))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self.run(None, c.Tick())

    @invariant()
    def every_composer_says_what_a_post_would_meet(self) -> None:
        """The reason each member was told they can't post is the room's rule right now."""
        if self.state.phase == "ended":
            return
        for user, p in self.state.participants.items():
            block = post_block(self.state, p, self.now)
            assert self.told[user] == (None if block is None else block.value)

    @invariant()
    def time_acts_exactly_at_the_deadline(self) -> None:
        """A hub ticks a session only at its deadline: a tick a moment before it changes
        nothing at all, and one at it does something (so it is never early either)."""
        due = next_deadline(self.state)
        if due is None:
            assert self.state.phase == "ended"
            return
        assert due > self.now
        parts = codec.to_parts(self.state)
        early = codec.from_parts(parts)
        t = apply(early, None, c.Tick(), max(self.now, due - 0.001))
        assert (t.events, t.notices, t.effects) == ([], [], [])
        assert codec.to_parts(early) == parts
        assert (t.deadline, t.sooner) == (due, False)
        on_time = codec.from_parts(parts)
        t = apply(on_time, None, c.Tick(), due)
        assert t.events or t.notices or codec.to_parts(on_time) != parts

    @invariant()
    def never_more_members_than_capacity(self) -> None:
        assert self.state.members_present() <= self.state.config.capacity

    @invariant()
    def state_survives_a_round_trip_through_json(self) -> None:
        """What a shared-state hub stores is exactly the state."""
        assert codec.from_parts(codec.to_parts(self.state)) == self.state

    @invariant()
    def seq_is_the_last_event(self) -> None:
        assert self.state.seq == self.last_seq

    @invariant()
    def the_holder_is_a_present_sharer(self) -> None:
        r = self.state.round
        if r is not None and r.holder is not None:
            holder = self.state.participants[r.holder]
            assert holder.mode == "sharer"
            assert not holder.staff

    @invariant()
    def the_floor_is_held_by_a_connected_member_and_never_during_a_round(self) -> None:
        floor = self.state.floor
        if floor is not None:
            holder = self.state.participants[floor]
            assert not holder.staff
            assert holder.conns
            assert self.state.round is None

    @invariant()
    def removed_people_are_gone(self) -> None:
        assert not self.state.removed & set(self.state.participants)

    @invariant()
    def a_live_group_without_a_connected_facilitator_is_paused(self) -> None:
        if self.state.phase == "live" and not self.state.keeper_present():
            assert self.state.pause is not None


RoomMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
TestRoomInvariants = RoomMachine.TestCase
