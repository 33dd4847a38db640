"""The floor: a talking piece outside rounds.

A facilitator gives the floor to a member — the first raised hand, or someone they
name. While a member has it, only they (and the facilitators) post, so whoever
raised their hand is heard instead of talked over; a listener given the floor is
asked, not made, to share. It ends when they say done or pass (the room hears
``done`` either way), when a facilitator ends it or starts a round, or when they
leave or lose their connection.
"""

from __future__ import annotations

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core.state import Participant, RoomState
from holdspace.core.transition import Transition, emit, record, require_staff, target
from holdspace.errors import Code, Rejected


def give_floor(
    state: RoomState, t: Transition, p: Participant, cmd: c.GiveFloor, now: float
) -> None:
    require_staff(p)
    if state.round is not None:
        raise Rejected(
            "A round is going on: the talking piece decides who speaks.", code=Code.ROUND_RUNNING
        )
    if cmd.target is None:
        # The first raised hand of someone here: a hand of someone whose phone dropped
        # stays in the queue for when they are back, but the floor can't wait for them.
        here = [u for u in state.hands if state.participants[u].conns]
        if not here:
            raise Rejected(
                "No hands are raised by anyone connected right now."
                if state.hands
                else "No hands are raised.",
                code=Code.NO_HANDS,
            )
        user_id = here[0]
    else:
        who = target(state, cmd.target)
        if who.staff:
            raise Rejected("Facilitators can speak at any time.", code=Code.INVALID)
        if not who.conns:
            raise Rejected(
                f"{who.name} is away right now: their connection dropped.",
                code=Code.NOT_PRESENT,
            )
        user_id = who.user_id
    if state.floor == user_id:
        return
    if state.floor is not None:
        end(state, t, "ended", p.user_id, now)
    if user_id in state.hands:
        state.hands.remove(user_id)
    state.floor = user_id
    emit(state, t, e.FloorGiven, now, user_id=user_id, by=p.user_id, queue=tuple(state.hands))
    record(t, "floor", p.user_id, user_id)


def end_floor(state: RoomState, t: Transition, p: Participant, cmd: c.EndFloor, now: float) -> None:
    require_staff(p)
    if state.floor is None:
        raise Rejected("Nobody has the floor.", code=Code.NO_FLOOR)
    end(state, t, "ended", p.user_id, now)


def end(state: RoomState, t: Transition, outcome: str, by: str | None, now: float) -> None:
    """Open the floor again (see :class:`holdspace.core.events.FloorEnded` for outcomes)."""
    holder = state.floor
    assert holder is not None
    state.floor = None
    emit(state, t, e.FloorEnded, now, user_id=holder, outcome=outcome, by=by)
