"""The room state machine: ``apply(state, actor_id, command, now) -> Transition``.

Time-driven work (the session starting, mutes running out, held seats expiring,
a silent holder's turn timing out, the session ending) happens at the start of
every command, so a command never observes stale time; ``Tick`` does only that
work. After every command the room checks that a facilitator is present, and
pauses itself if not.

Contract: ``apply`` never raises a :class:`holdspace.errors.ClientError`. A
refused command leaves its own part of ``state`` untouched and comes back as
``Transition.error``; the time-driven events before it still stand and must be
committed like any others. Events carry consecutive ``seq`` numbers.

Presence lives here; speech, rounds and the facilitator's tools have modules of
their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core import facilitation as f
from holdspace.core import floor, receipts, rounds, speech
from holdspace.core.policy import member_block, post_state, room_block
from holdspace.core.state import UNTOLD, Participant, RoomState, Waiting
from holdspace.core.text import clean_name
from holdspace.core.transition import Transition, emit, view
from holdspace.errors import ClientError, Code, InvalidInput, Rejected

__all__ = ["Transition", "apply", "next_deadline"]


def apply(
    state: RoomState, actor_id: str | None, cmd: c.Command, now: float, cid: str | None = None
) -> Transition:
    """Apply one command from ``actor_id`` (None for ``Tick``; for ``Reconfigure``, whoever
    changed the settings, present or not) at time ``now``. A command sent again with the
    same client id ``cid`` gets its first answer, marked ``repeated``, and changes nothing
    (see :mod:`holdspace.core.receipts`)."""
    t = Transition()
    due = next_deadline(state)
    _housekeep(state, t, now)
    if isinstance(cmd, c.Reconfigure):
        if state.phase != "ended":
            f.reconfigure(state, t, actor_id, cmd, now)
    elif not isinstance(cmd, c.Tick):
        kept = None if cid is None or actor_id is None else receipts.find(state, actor_id, cid)
        if kept is not None:
            t.reply = {**kept, "repeated": True}
        else:
            before = len(t.events) + len(t.notices) + len(t.effects)  # time's, not the command's
            try:
                _dispatch(state, t, actor_id, cmd, now)
            except ClientError as refusal:
                t.error = refusal
            else:
                changed = len(t.events) + len(t.notices) + len(t.effects) > before
                if changed and cid is not None and actor_id is not None:
                    receipts.keep(state, actor_id, cid, t.reply)
    f.keep_watch(state, t, now)
    _tell_post_states(state, t, now)
    t.deadline = next_deadline(state)
    t.sooner = t.deadline is not None and (due is None or t.deadline < due)
    return t


def _tell_post_states(state: RoomState, t: Transition, now: float) -> None:
    """Tell each member whose reason not to post changed (a pause, a turn moving on, a
    mute running out…): their composer follows the room's rules without restating them."""
    if state.phase == "ended":
        return
    room, speaker = room_block(state)
    for p in state.participants.values():
        if p.role != "member":
            continue  # never blocked: their snapshot says so, and it never changes
        code = member_block(state, p, now, room, speaker)  # a Code is its own string
        if code != p.post_told:
            if p.post_told != UNTOLD:  # a newcomer's snapshot says it
                t.notices.append(
                    e.PostState(to=(p.user_id,), seq=state.seq, **post_state(state, p, now))
                )
            p.post_told = code


def _dispatch(
    state: RoomState, t: Transition, actor_id: str | None, cmd: c.Command, now: float
) -> None:
    if state.phase == "ended":
        raise Rejected("This session has ended.", code=Code.SESSION_ENDED)
    if actor_id is None:
        raise InvalidInput("A command needs someone to act.")
    if isinstance(cmd, c.SignOut):  # whether or not they are here: nothing is told to others
        t.notices.append(e.SignedOut(to=(cmd.device,), seq=state.seq))
        return
    if isinstance(cmd, c.Join):
        _join(state, t, actor_id, cmd, now)
        return
    if isinstance(cmd, c.Disconnect | c.Leave) and actor_id in state.waiting:
        _step_away_from_door(state, t, actor_id, cmd)
        return
    if isinstance(cmd, c.Crisis):  # even from outside the door
        speech.crisis(state, t, None, cmd, now)
        return
    actor = state.participants.get(actor_id)
    if isinstance(cmd, c.Disconnect):
        if actor is not None:
            _disconnect(state, t, actor, cmd.conn, now)
        return
    if actor is None:
        if actor_id in state.waiting:
            raise Rejected("You'll be able to do that once you're in the room.", code=Code.WAITING)
        raise Rejected("You're not in this room right now. Join it first.", code=Code.NOT_PRESENT)
    _HANDLERS[type(cmd)](state, t, actor, cmd, now)


# -- time -------------------------------------------------------------------


def next_deadline(state: RoomState) -> float | None:
    """The first moment at which time acts on this session by itself — what
    :func:`_housekeep` would do then and not before — or None once it has ended. Before
    it, a ``Tick`` changes nothing (the invariant tests check it), so a hub ticks a
    session only when this moment comes: idle sessions cost nothing."""
    if state.phase == "ended":
        return None
    cfg = state.config
    due = cfg.ends_at
    if state.phase == "lobby" and cfg.starts_at < due:
        due = cfg.starts_at
    for p in state.participants.values():
        if p.muted_until is not None and p.muted_until < due:  # INDEFINITE never comes
            due = p.muted_until
        if p.away_since is not None and p.away_since + cfg.grace_seconds < due:
            due = p.away_since + cfg.grace_seconds
    r = state.round
    if r is not None and r.holder is not None and r.deadline is not None and state.pause is None:
        due = min(due, r.deadline)
    return due


def _housekeep(state: RoomState, t: Transition, now: float) -> None:
    if state.phase == "ended":
        return
    cfg = state.config
    if state.phase == "lobby" and now >= cfg.starts_at:
        state.phase = "live"
        emit(state, t, e.SessionStarted, now)
    for p in state.participants.values():
        if p.muted_until is not None and now >= p.muted_until:
            p.muted_until = None
            emit(state, t, e.Unmuted, now, user_id=p.user_id, by=None)
            t.effects.append(e.RecordModeration("mute_expired", None, p.user_id))
    expired = [
        p.user_id
        for p in state.participants.values()
        if p.away_since is not None and now - p.away_since >= cfg.grace_seconds
    ]
    for user_id in expired:
        f.remove_participant(state, t, user_id, now)
        emit(state, t, e.Left, now, user_id=user_id, reason="timed_out")
    rounds.time_out(state, t, now)
    if now >= cfg.ends_at:
        f.end(state, t, None, now)


# -- presence -----------------------------------------------------------------


def _join(state: RoomState, t: Transition, user_id: str, cmd: c.Join, now: float) -> None:
    p = state.participants.get(user_id)
    if p is not None:  # back within the grace period, or another tab
        was_away = p.away_since is not None
        p.conns.add(cmd.conn)
        p.away_since = None
        if was_away:
            emit(state, t, e.Back, now, user_id=user_id)
        return
    waiting = state.waiting.get(user_id)
    if waiting is not None:  # another tab at the door
        waiting.conns.add(cmd.conn)
        t.reply["waiting"] = waiting.place
        t.reply["message"] = WAITING_MESSAGES[waiting.place]
        return
    member = cmd.role == "member"
    if member and user_id in state.removed:
        raise Rejected(
            "You can't rejoin this session. Please reach out to the facilitators if you need to.",
            code=Code.REMOVED,
        )
    if member and state.locked:
        raise Rejected(
            "The group has closed its door for this session. You're welcome next time.",
            code=Code.LOCKED,
        )
    if member and state.members_present() >= state.config.capacity:
        raise Rejected(
            "This group is full right now. A seat may open up soon.",
            code=Code.ROOM_FULL,
            capacity=state.config.capacity,
        )
    name = clean_name(cmd.name)
    stats = state.stats_of(user_id)
    stats.name, stats.role = name, cmd.role
    if cmd.agreed:
        state.agreed.add(user_id)
    if member and state.waiting_room and user_id not in state.admitted:
        _wait(state, t, Waiting(user_id, name, cmd.role, now, "waiting_room", {cmd.conn}))
        return
    if member and state.round is not None and state.round.holder is not None:
        _wait(state, t, Waiting(user_id, name, cmd.role, now, "door", {cmd.conn}))
        return
    p = Participant(user_id=user_id, name=name, role=cmd.role, joined_at=now, conns={cmd.conn})
    state.participants[user_id] = p
    emit(state, t, e.Joined, now, participant=view(state, p))


def _wait(state: RoomState, t: Transition, waiting: Waiting) -> None:
    """Hold an arrival outside: at the door until the current share ends, or in the
    waiting room until a facilitator admits them. They see no room events meanwhile."""
    state.waiting[waiting.user_id] = waiting
    t.reply["waiting"] = waiting.place
    t.reply["message"] = WAITING_MESSAGES[waiting.place]
    staff = state.staff_ids()
    if staff:
        t.notices.append(e.Arrival(to=staff, seq=state.seq, **waiting_data(waiting)))


WAITING_MESSAGES = {
    "door": "Someone is sharing right now. You'll come in as soon as they finish.",
    "waiting_room": "Welcome. A facilitator will let you in shortly; take a moment to settle.",
}


def waiting_data(w: Waiting) -> dict[str, Any]:
    return {"user_id": w.user_id, "name": w.name, "place": w.place, "since": w.since}


def _step_away_from_door(
    state: RoomState, t: Transition, user_id: str, cmd: c.Disconnect | c.Leave
) -> None:
    waiting = state.waiting[user_id]
    if cmd.conn is not None:
        waiting.conns.discard(cmd.conn)
    if not waiting.conns or cmd.conn is None:
        del state.waiting[user_id]
        staff = state.staff_ids()
        if staff:  # so nobody tries to admit someone who has gone
            t.notices.append(e.ArrivalLeft(to=staff, seq=state.seq, user_id=user_id))


def _disconnect(state: RoomState, t: Transition, p: Participant, conn: str, now: float) -> None:
    if conn not in p.conns:
        return
    p.conns.discard(conn)
    if not p.conns:
        p.away_since = now
        emit(state, t, e.Away, now, user_id=p.user_id)
        if state.floor == p.user_id:  # they can't speak now: nobody waits on them
            floor.end(state, t, "left", None, now)


def _leave(state: RoomState, t: Transition, p: Participant, cmd: c.Leave, now: float) -> None:
    if cmd.conn is not None:
        p.conns.discard(cmd.conn)
        if p.conns:  # still here in another tab or device
            return
    f.remove_participant(state, t, p.user_id, now)
    emit(state, t, e.Left, now, user_id=p.user_id, reason="left")


def _agree(state: RoomState, t: Transition, p: Participant, cmd: c.Agree, now: float) -> None:
    if p.user_id in state.agreed:
        return
    state.agreed.add(p.user_id)
    emit(state, t, e.Agreed, now, user_id=p.user_id)
    t.effects.append(e.RecordAgreement(p.user_id))


def _set_mode(state: RoomState, t: Transition, p: Participant, cmd: c.SetMode, now: float) -> None:
    if cmd.mode not in ("listener", "sharer"):
        raise InvalidInput("Mode is either 'listener' or 'sharer'.", code=Code.INVALID)
    if p.mode == cmd.mode:
        return
    p.mode = cmd.mode
    emit(state, t, e.ModeChanged, now, user_id=p.user_id, mode=cmd.mode)
    if cmd.mode == "listener" and state.round is not None and state.round.holder == p.user_id:
        rounds.end_turn(state, t, "passed", p.user_id, now)  # choosing to listen is a pass
    if cmd.mode == "listener" and state.floor == p.user_id:
        floor.end(state, t, "done", None, now)


_Handler = Callable[[RoomState, Transition, Participant, Any, float], None]
_HANDLERS: dict[type[Any], _Handler] = {
    c.Leave: _leave,
    c.Agree: _agree,
    c.SetMode: _set_mode,
    c.Post: speech.post,
    c.React: speech.react,
    c.WhoReacted: speech.who_reacted,
    c.Redact: speech.redact,
    c.Whisper: speech.whisper,
    c.WhisperReply: speech.whisper_reply,
    c.Crisis: speech.crisis,
    c.StartRound: rounds.start_round,
    c.Done: rounds.done,
    c.Pass: rounds.pass_,
    c.SkipTurn: rounds.skip,
    c.ReorderRound: rounds.reorder,
    c.EndRound: rounds.end_round,
    c.Mute: f.mute,
    c.Unmute: f.unmute,
    c.Pause: f.pause,
    c.Resume: f.resume,
    c.EndSession: f.end_session,
    c.Remove: f.remove,
    c.Lock: f.lock,
    c.Unlock: f.unlock,
    c.Admit: f.admit,
    c.Decline: f.decline,
    c.SetWaitingRoom: f.set_waiting_room,
    c.SlowMode: f.slow_mode,
    c.RaiseHand: f.raise_hand,
    c.LowerHand: f.lower_hand,
    c.GiveFloor: floor.give_floor,
    c.EndFloor: floor.end_floor,
    c.ClearHands: f.clear_hands,
    c.Balance: f.balance,
}
