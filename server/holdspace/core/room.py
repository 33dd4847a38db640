"""The room state machine: ``apply(state, actor_id, command, now) -> Transition``.

Time-driven work (the session starting, mutes running out, held seats expiring,
the session ending) happens at the start of every command, so a command never
observes stale time; ``Tick`` does only that work.

Contract: ``apply`` never raises a :class:`holdspace.errors.ClientError`. A
refused command leaves its own part of ``state`` untouched and comes back as
``Transition.error``; the time-driven events before it still stand and must be
committed like any others. Events carry consecutive ``seq`` numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core.policy import moderate_refusal, post_refusal, react_refusal
from holdspace.core.state import (
    INDEFINITE,
    Bucket,
    MessageRecord,
    Participant,
    PauseInfo,
    RoomState,
)
from holdspace.core.text import clean_message, clean_name, clean_short
from holdspace.errors import ClientError, InvalidInput, NotFound, Rejected


@dataclass(slots=True)
class Transition:
    events: list[e.Event] = field(default_factory=list)
    effects: list[e.Effect] = field(default_factory=list)
    replaced: list[e.Event] = field(default_factory=list)  # log entries rewritten, by seq
    reply: dict[str, Any] = field(default_factory=dict)  # for the actor only
    ended: bool = False  # the session is over: drop its state and log
    error: ClientError | None = None  # the command was refused; nothing of it applied


def apply(state: RoomState, actor_id: str | None, cmd: c.Command, now: float) -> Transition:
    """Apply one command from ``actor_id`` (None for ``Tick``) at time ``now``."""
    t = Transition()
    _housekeep(state, t, now)
    if isinstance(cmd, c.Tick):
        return t
    try:
        _dispatch(state, t, actor_id, cmd, now)
    except ClientError as refusal:
        t.error = refusal
    return t


def _dispatch(
    state: RoomState, t: Transition, actor_id: str | None, cmd: c.Command, now: float
) -> None:
    if state.phase == "ended":
        raise Rejected("This session has ended.", code="session_ended")
    if actor_id is None:
        raise InvalidInput("A command needs someone to act.")
    if isinstance(cmd, c.Join):
        _join(state, t, actor_id, cmd, now)
        return
    actor = state.participants.get(actor_id)
    if isinstance(cmd, c.Disconnect):
        if actor is not None:
            _disconnect(state, t, actor, cmd.conn, now)
        return
    if actor is None:
        raise Rejected("You're not in this room right now. Join it first.", code="not_present")
    _HANDLERS[type(cmd)](state, t, actor, cmd, now)


def _emit(state: RoomState, t: Transition, cls: type[e.Event], now: float, **fields: Any) -> Any:
    state.seq += 1
    event = cls(seq=state.seq, at=now, **fields)
    t.events.append(event)
    return event


def view(state: RoomState, p: Participant) -> e.ParticipantView:
    return e.ParticipantView(p.user_id, p.name, p.role, p.mode, p.user_id in state.agreed)


# -- time -----------------------------------------------------------------


def _housekeep(state: RoomState, t: Transition, now: float) -> None:
    if state.phase == "ended":
        return
    cfg = state.config
    if state.phase == "lobby" and now >= cfg.starts_at:
        state.phase = "live"
        _emit(state, t, e.SessionStarted, now)
    for p in state.participants.values():
        if p.muted_until is not None and now >= p.muted_until:
            p.muted_until = None
            _emit(state, t, e.Unmuted, now, user_id=p.user_id, by=None)
            t.effects.append(e.RecordModeration("mute_expired", None, p.user_id))
    expired = [
        p
        for p in state.participants.values()
        if p.away_since is not None and now - p.away_since >= cfg.grace_seconds
    ]
    for p in expired:
        del state.participants[p.user_id]
        _emit(state, t, e.Left, now, user_id=p.user_id, reason="timed_out")
    if now >= cfg.ends_at:
        _end(state, t, None, now)


def _end(state: RoomState, t: Transition, by: str | None, now: float) -> None:
    state.phase = "ended"
    _emit(state, t, e.SessionEnded, now, by=by)
    t.effects.append(e.RecordModeration("session_ended", by))
    t.ended = True


# -- presence -------------------------------------------------------------


def _join(state: RoomState, t: Transition, user_id: str, cmd: c.Join, now: float) -> None:
    p = state.participants.get(user_id)
    if p is not None:  # back within the grace period, or another tab
        was_away = p.away_since is not None
        p.conns.add(cmd.conn)
        p.away_since = None
        if was_away:
            _emit(state, t, e.Back, now, user_id=user_id)
        return
    if cmd.role == "member" and state.members_present() >= state.config.capacity:
        raise Rejected(
            "This group is full right now. A seat may open up soon.",
            code="room_full",
            capacity=state.config.capacity,
        )
    name = clean_name(cmd.name)
    if cmd.agreed:
        state.agreed.add(user_id)
    p = Participant(user_id=user_id, name=name, role=cmd.role, joined_at=now, conns={cmd.conn})
    state.participants[user_id] = p
    _emit(state, t, e.Joined, now, participant=view(state, p))


def _disconnect(state: RoomState, t: Transition, p: Participant, conn: str, now: float) -> None:
    if conn not in p.conns:
        return
    p.conns.discard(conn)
    if not p.conns:
        p.away_since = now
        _emit(state, t, e.Away, now, user_id=p.user_id)


def _leave(state: RoomState, t: Transition, p: Participant, cmd: c.Leave, now: float) -> None:
    if cmd.conn is not None:
        p.conns.discard(cmd.conn)
        if p.conns:  # still here in another tab or device
            return
    del state.participants[p.user_id]
    _emit(state, t, e.Left, now, user_id=p.user_id, reason="left")


def _agree(state: RoomState, t: Transition, p: Participant, cmd: c.Agree, now: float) -> None:
    if p.user_id in state.agreed:
        return
    state.agreed.add(p.user_id)
    _emit(state, t, e.Agreed, now, user_id=p.user_id)
    t.effects.append(e.RecordAgreement(p.user_id))


def _set_mode(state: RoomState, t: Transition, p: Participant, cmd: c.SetMode, now: float) -> None:
    if cmd.mode not in ("listener", "sharer"):
        raise InvalidInput("Mode is either 'listener' or 'sharer'.", code="invalid")
    if p.mode == cmd.mode:
        return
    p.mode = cmd.mode
    _emit(state, t, e.ModeChanged, now, user_id=p.user_id, mode=cmd.mode)


# -- speech ---------------------------------------------------------------


def _post(state: RoomState, t: Transition, p: Participant, cmd: c.Post, now: float) -> None:
    refusal = post_refusal(state, p, now)
    if refusal is not None:
        raise refusal
    text = clean_message(cmd.text)
    if not p.staff:
        _take(p, "posts", state.config.post_rate, now)
    event = _emit(state, t, e.MessagePosted, now, user_id=p.user_id, name=p.name, text=text)
    state.messages[event.seq] = MessageRecord(event.seq, p.user_id, p.name, text, now)
    while len(state.messages) > state.config.message_buffer:
        del state.messages[next(iter(state.messages))]
    t.reply["message"] = event.seq


def _react(state: RoomState, t: Transition, p: Participant, cmd: c.React, now: float) -> None:
    refusal = react_refusal(state, p)
    if refusal is not None:
        raise refusal
    if cmd.kind not in c.REACTIONS:
        raise InvalidInput(
            f"Reactions are {', '.join(c.REACTIONS)}.", code="invalid", allowed=list(c.REACTIONS)
        )
    message = state.messages.get(cmd.message)
    if message is None or message.text is None:
        raise NotFound("That message is no longer here.", code="no_such_message")
    if not p.staff:
        _take(p, "reacts", state.config.react_rate, now)
    who = message.reactions.setdefault(cmd.kind, set())
    who.symmetric_difference_update({p.user_id})  # reacting again takes it back
    _emit(state, t, e.ReactionCounted, now, message=message.seq, kind=cmd.kind, count=len(who))
    t.reply["reacted"] = p.user_id in who


def _take(p: Participant, which: str, rate: Any, now: float) -> None:
    bucket: Bucket | None = getattr(p, which)
    if bucket is None:
        bucket = Bucket(tokens=rate.burst, updated_at=now)
        setattr(p, which, bucket)
    if not bucket.take(rate, now):
        wait = math.ceil(bucket.wait(rate))
        raise Rejected(
            f"Let's slow down a little — you can send again in {wait} s.",
            code="rate_limited",
            retry_after=wait,
        )


# -- facilitation -----------------------------------------------------------


def _target(state: RoomState, user_id: str) -> Participant:
    target = state.participants.get(user_id)
    if target is None:
        raise NotFound("That person isn't in the room.", code="no_such_participant")
    return target


def _mute(state: RoomState, t: Transition, p: Participant, cmd: c.Mute, now: float) -> None:
    _require_staff(p)
    target = _target(state, cmd.target)
    if target.staff:
        raise Rejected("Facilitators can't be muted.", code="forbidden")
    limit = state.config.max_mute_minutes
    if cmd.minutes is not None and not (1 <= cmd.minutes <= limit):
        raise InvalidInput(f"A mute lasts between 1 and {limit} minutes.", code="invalid")
    reason = clean_short(cmd.reason, limit=200, field="reason")
    until = INDEFINITE if cmd.minutes is None else now + cmd.minutes * 60
    target.muted_until = until
    _emit(
        state,
        t,
        e.Muted,
        now,
        user_id=target.user_id,
        by=p.user_id,
        until=None if until == INDEFINITE else until,
    )
    detail = {"minutes": cmd.minutes} if cmd.minutes is not None else None
    t.effects.append(e.RecordModeration("mute", p.user_id, target.user_id, reason, detail))


def _unmute(state: RoomState, t: Transition, p: Participant, cmd: c.Unmute, now: float) -> None:
    _require_staff(p)
    target = _target(state, cmd.target)
    if not target.muted(now):
        raise Rejected("They aren't muted.", code="not_muted")
    target.muted_until = None
    _emit(state, t, e.Unmuted, now, user_id=target.user_id, by=p.user_id)
    t.effects.append(e.RecordModeration("unmute", p.user_id, target.user_id))


def _pause(state: RoomState, t: Transition, p: Participant, cmd: c.Pause, now: float) -> None:
    _require_staff(p)
    if state.pause is not None:
        raise Rejected("The group is already paused.", code="already_paused")
    message = clean_short(cmd.message, limit=200, field="pause message")
    state.pause = PauseInfo(by=p.user_id, message=message, at=now)
    _emit(state, t, e.Paused, now, by=p.user_id, message=message)
    t.effects.append(e.RecordModeration("pause", p.user_id))


def _resume(state: RoomState, t: Transition, p: Participant, cmd: c.Resume, now: float) -> None:
    _require_staff(p)
    if state.pause is None:
        raise Rejected("The group isn't paused.", code="not_paused")
    state.pause = None
    _emit(state, t, e.Resumed, now, by=p.user_id)
    t.effects.append(e.RecordModeration("resume", p.user_id))


def _end_session(
    state: RoomState, t: Transition, p: Participant, cmd: c.EndSession, now: float
) -> None:
    _require_staff(p)
    _end(state, t, p.user_id, now)


def _require_staff(p: Participant) -> None:
    refusal = moderate_refusal(p)
    if refusal is not None:
        raise refusal


_HANDLERS: dict[type[Any], Any] = {
    c.Leave: _leave,
    c.Agree: _agree,
    c.SetMode: _set_mode,
    c.Post: _post,
    c.React: _react,
    c.Mute: _mute,
    c.Unmute: _unmute,
    c.Pause: _pause,
    c.Resume: _resume,
    c.EndSession: _end_session,
}
