"""The facilitator's tools: mute, pause, remove, lock, the waiting room, hands, slow
mode, ending the session (with its summary), and the participation-balance view.

Each action is a room event everyone sees, worded so nobody is shamed (a removed
member simply "is no longer in the session"), and goes to the moderation record.
"""

from __future__ import annotations

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core import floor, rounds
from holdspace.core.links import linkify
from holdspace.core.state import INDEFINITE, Participant, PauseInfo, RoomState, Waiting
from holdspace.core.text import clean_short
from holdspace.core.transition import Transition, emit, record, require_staff, target
from holdspace.errors import Code, InvalidInput, NotFound, Rejected

MAX_SLOW_MODE_SECONDS = 600
AUTO_PAUSE_MESSAGE = "The group is paused until a facilitator is back."


def mute(state: RoomState, t: Transition, p: Participant, cmd: c.Mute, now: float) -> None:
    require_staff(p)
    who = target(state, cmd.target)
    if who.staff:
        raise Rejected("Facilitators can't be muted.", code=Code.FORBIDDEN)
    limit = state.config.max_mute_minutes
    if cmd.minutes is not None and not (1 <= cmd.minutes <= limit):
        raise InvalidInput(f"A mute lasts between 1 and {limit} minutes.", code=Code.INVALID)
    reason = clean_short(cmd.reason, limit=200, field="reason")
    until = INDEFINITE if cmd.minutes is None else now + cmd.minutes * 60
    who.muted_until = until
    emit(state, t, e.Muted, now, user_id=who.user_id, by=p.user_id,
         until=None if until == INDEFINITE else until)  # fmt: skip
    if state.floor == who.user_id:
        floor.end(state, t, "ended", p.user_id, now)
    if cmd.minutes is None:
        record(t, "mute", p.user_id, who.user_id, reason)
    else:
        record(t, "mute", p.user_id, who.user_id, reason, minutes=cmd.minutes)


def unmute(state: RoomState, t: Transition, p: Participant, cmd: c.Unmute, now: float) -> None:
    require_staff(p)
    who = target(state, cmd.target)
    if not who.muted(now):
        raise Rejected("They aren't muted.", code=Code.NOT_MUTED)
    who.muted_until = None
    emit(state, t, e.Unmuted, now, user_id=who.user_id, by=p.user_id)
    record(t, "unmute", p.user_id, who.user_id)


def pause(state: RoomState, t: Transition, p: Participant, cmd: c.Pause, now: float) -> None:
    require_staff(p)
    if state.pause is not None:
        raise Rejected("The group is already paused.", code=Code.ALREADY_PAUSED)
    message = clean_short(cmd.message, limit=200, field="pause message")
    state.pause = PauseInfo(by=p.user_id, message=message, at=now)
    emit(state, t, e.Paused, now, by=p.user_id, message=message)
    record(t, "pause", p.user_id)


def resume(state: RoomState, t: Transition, p: Participant, cmd: c.Resume, now: float) -> None:
    require_staff(p)
    if state.pause is None:
        raise Rejected("The group isn't paused.", code=Code.NOT_PAUSED)
    state.pause = None
    emit(state, t, e.Resumed, now, by=p.user_id)
    record(t, "resume", p.user_id)
    rounds.restart_timer(state, now)


def keep_watch(state: RoomState, t: Transition, now: float) -> None:
    """Never a live group without its keeper: pause when no facilitator is connected,
    and lift that pause (only that one) when one is back."""
    if state.phase != "live":
        return
    present = state.keeper_present()
    if not present and state.pause is None:
        state.pause = PauseInfo(None, AUTO_PAUSE_MESSAGE, now, "no_facilitator")
        emit(state, t, e.Paused, now, by=None, message=AUTO_PAUSE_MESSAGE,
             reason="no_facilitator")  # fmt: skip
        record(t, "paused_no_facilitator", None)
    elif present and state.pause is not None and state.pause.reason == "no_facilitator":
        state.pause = None
        emit(state, t, e.Resumed, now, by=None)
        record(t, "resumed_facilitator_back", None)
        rounds.restart_timer(state, now)


def end(state: RoomState, t: Transition, by: str | None, now: float) -> None:
    state.phase = "ended"
    emit(state, t, e.SessionEnded, now, by=by)
    if state.waiting:  # they see no room events, so tell them directly
        t.notices.append(
            e.SessionOver(to=tuple(state.waiting), seq=state.seq,
                          message="This session has ended. Thank you for coming.")
        )  # fmt: skip
    counts = summary_counts(state)
    staff = state.staff_ids()
    if staff:
        t.notices.append(
            e.SessionSummary(to=staff, seq=state.seq, came=attendance(state), **counts)
        )  # fmt: skip
    record(t, "session_ended", by, None, None, **counts)
    t.ended = True


def attendance(state: RoomState) -> list[dict[str, str]]:
    """Everyone who came into the room this session, in order of arrival."""
    return [{"user_id": u, "name": s.name, "role": s.role} for u, s in state.stats.items()]


def summary_counts(state: RoomState) -> dict[str, int]:
    """How the session went, in counts only: never a word anyone said. Passes are counted,
    not named (the facilitators saw them in the room)."""
    members = [s for s in state.stats.values() if s.role == "member"]
    return {
        "members": len(members),
        "rounds": state.rounds_held,
        "shares": sum(s.turns for s in members),
        "passes": sum(s.passes for s in members),
        "messages": sum(s.posts for s in state.stats.values()),
        "whispers": sum(1 for w in state.whispers if w.by is None),
        "removals": len(state.removed),
    }


def end_session(
    state: RoomState, t: Transition, p: Participant, cmd: c.EndSession, now: float
) -> None:
    require_staff(p)
    end(state, t, p.user_id, now)


def remove_participant(state: RoomState, t: Transition, user_id: str, now: float) -> None:
    """Take someone out of the room's live structures (seat, hands, floor, round)."""
    del state.participants[user_id]
    if state.floor == user_id:
        floor.end(state, t, "left", None, now)
    if user_id in state.hands:
        state.hands.remove(user_id)
        emit(state, t, e.HandLowered, now, user_id=user_id, by=None, queue=tuple(state.hands))
    rounds.departed(state, t, user_id, now)


def remove(state: RoomState, t: Transition, p: Participant, cmd: c.Remove, now: float) -> None:
    require_staff(p)
    reason = clean_short(cmd.reason, limit=200, field="reason")
    waiting = state.waiting.get(cmd.target)
    who = state.participants.get(cmd.target)
    if who is None and waiting is None:
        raise NotFound("That person isn't in the room.", code=Code.NO_SUCH_PARTICIPANT)
    if (who is not None and who.staff) or (waiting is not None and waiting.role != "member"):
        raise Rejected("Facilitators can't be removed.", code=Code.FORBIDDEN)
    _send_off(state, t, cmd.target, "removed")
    state.removed.add(cmd.target)
    if who is not None:
        remove_participant(state, t, cmd.target, now)
        emit(state, t, e.Left, now, user_id=cmd.target, reason="removed")
    else:
        del state.waiting[cmd.target]
    record(t, "remove", p.user_id, cmd.target, reason, barred=cmd.bar)
    if cmd.bar:
        t.effects.append(e.BarMember(cmd.target, p.user_id, reason))


FAREWELLS = {
    "removed": "A facilitator has asked you to step out of this session. "
    "Take care of yourself; support is always one tap away.",
    "declined": "The facilitators can't bring you into this session. "
    "You're welcome to reach out to them, and support is always here.",
}


def _send_off(state: RoomState, t: Transition, user_id: str, kind: str) -> None:
    """Tell someone kindly they won't be in the room, with where to turn, and shut their
    connections off from room events from this point."""
    resources = state.config.crisis_resources
    notice = e.Removed if kind == "removed" else e.Declined
    t.notices.append(
        notice(to=(user_id,), seq=state.seq, message=FAREWELLS[kind],
               crisis_resources=resources, crisis_resources_html=linkify(resources))
    )  # fmt: skip


def lock(state: RoomState, t: Transition, p: Participant, cmd: c.Lock, now: float) -> None:
    require_staff(p)
    if state.locked:
        raise Rejected("The room is already closed to new arrivals.", code=Code.ALREADY_LOCKED)
    state.locked = True
    emit(state, t, e.Locked, now, by=p.user_id)
    record(t, "lock", p.user_id)


def unlock(state: RoomState, t: Transition, p: Participant, cmd: c.Unlock, now: float) -> None:
    require_staff(p)
    if not state.locked:
        raise Rejected("The room is open to arrivals already.", code=Code.NOT_LOCKED)
    state.locked = False
    emit(state, t, e.Unlocked, now, by=p.user_id)
    record(t, "unlock", p.user_id)


def admit(state: RoomState, t: Transition, p: Participant, cmd: c.Admit, now: float) -> None:
    require_staff(p)
    waiting = state.waiting.get(cmd.target)
    if waiting is None or waiting.place != "waiting_room":
        raise NotFound("Nobody by that id is in the waiting room.", code=Code.NOT_WAITING)
    if state.members_present() >= state.config.capacity:
        raise Rejected(
            "The group is full right now.", code=Code.ROOM_FULL, capacity=state.config.capacity
        )
    record(t, "admit", p.user_id, cmd.target)
    if not _let_in(state, t, waiting, now):
        t.reply["at_door"] = True


def _let_in(state: RoomState, t: Transition, waiting: Waiting, now: float) -> bool:
    """Bring someone from the waiting room in — or to the door, if someone is sharing
    (True when they are in the room now)."""
    state.admitted.add(waiting.user_id)
    if state.round is not None and state.round.holder is not None:
        waiting.place = "door"  # let in, but not into the middle of someone's share
        return False
    del state.waiting[waiting.user_id]
    rounds.admit(state, t, waiting.user_id, waiting.name, waiting.role, waiting.conns, now)
    return True


def set_waiting_room(
    state: RoomState, t: Transition, p: Participant, cmd: c.SetWaitingRoom, now: float
) -> None:
    require_staff(p)
    waiting_room(state, t, cmd.on, p.user_id, now)


def reconfigure(
    state: RoomState, t: Transition, by: str | None, cmd: c.Reconfigure, now: float
) -> None:
    """The group's settings changed during the session: what applies at once does."""
    waiting_room(state, t, cmd.waiting_room, by, now)


def waiting_room(state: RoomState, t: Transition, on: bool, by: str | None, now: float) -> None:
    """Arrivals from now on wait to be admitted, or come straight in. Turning it off lets in
    whoever is waiting, as far as there are seats; anyone left waits to be admitted."""
    if state.waiting_room == on:
        return
    state.waiting_room = on
    emit(state, t, e.WaitingRoomSet, now, on=on, by=by)
    record(t, "waiting_room_on" if on else "waiting_room_off", by)
    if on:
        return
    for waiting in [w for w in state.waiting.values() if w.place == "waiting_room"]:
        if state.members_present() >= state.config.capacity:
            break
        _let_in(state, t, waiting, now)


def decline(state: RoomState, t: Transition, p: Participant, cmd: c.Decline, now: float) -> None:
    require_staff(p)
    waiting = state.waiting.get(cmd.target)
    if waiting is None or waiting.place != "waiting_room":
        raise NotFound("Nobody by that id is in the waiting room.", code=Code.NOT_WAITING)
    del state.waiting[cmd.target]
    _send_off(state, t, cmd.target, "declined")
    record(t, "decline", p.user_id, cmd.target)


def slow_mode(state: RoomState, t: Transition, p: Participant, cmd: c.SlowMode, now: float) -> None:
    require_staff(p)
    if not 0 <= cmd.seconds <= MAX_SLOW_MODE_SECONDS:
        raise InvalidInput(
            f"Slow mode is between 0 (off) and {MAX_SLOW_MODE_SECONDS} seconds.", code=Code.INVALID
        )
    state.slow_mode = cmd.seconds or None
    state.slow_mode_since = now
    emit(state, t, e.SlowModeSet, now, seconds=state.slow_mode, by=p.user_id)
    record(t, "slow_mode", p.user_id, seconds=cmd.seconds)


def raise_hand(
    state: RoomState, t: Transition, p: Participant, cmd: c.RaiseHand, now: float
) -> None:
    if p.staff:
        raise Rejected("Facilitators can speak without raising a hand.", code=Code.INVALID)
    if p.user_id in state.hands:
        return
    state.hands.append(p.user_id)
    emit(state, t, e.HandRaised, now, user_id=p.user_id, queue=tuple(state.hands))


def lower_hand(
    state: RoomState, t: Transition, p: Participant, cmd: c.LowerHand, now: float
) -> None:
    whose = cmd.target or p.user_id
    if whose != p.user_id:
        require_staff(p)
    if whose not in state.hands:
        return
    state.hands.remove(whose)
    emit(state, t, e.HandLowered, now, user_id=whose, by=None if whose == p.user_id else p.user_id,
         queue=tuple(state.hands))  # fmt: skip


def clear_hands(
    state: RoomState, t: Transition, p: Participant, cmd: c.ClearHands, now: float
) -> None:
    require_staff(p)
    state.hands.clear()
    emit(state, t, e.HandsCleared, now, by=p.user_id)


def balance(state: RoomState, t: Transition, p: Participant, cmd: c.Balance, now: float) -> None:
    """Turns, passes, posts and time since last spoken, per member: to offer the floor
    to the quiet, never to rank anyone."""
    require_staff(p)
    members = [u for u, q in state.participants.items() if not q.staff]
    members += [u for u in state.stats if u not in state.participants and u not in members]
    rows = []
    for user_id in members:
        stats = state.stats_of(user_id)
        present = state.participants.get(user_id)
        rows.append({
            "user_id": user_id,
            "name": present.name if present else stats.name,
            "present": present is not None,
            "mode": present.mode if present else None,
            "turns": stats.turns,
            "passes": stats.passes,
            "posts": stats.posts,
            "last_spoke_at": stats.last_spoke_at,
            "seconds_since_spoke": None if stats.last_spoke_at is None
            else round(now - stats.last_spoke_at),
        })  # fmt: skip
    t.reply["members"] = rows
