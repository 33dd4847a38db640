"""Who may do what, as pure functions of the room and the participant.

Each ``*_refusal`` returns the :class:`Rejected` to raise, or None when allowed,
so the permission table tests can ask every combination without side effects.
The order of checks is the order a member would want to hear reasons in.
"""

from __future__ import annotations

import math

from holdspace.core.state import Participant, RoomState
from holdspace.errors import Code, Rejected


def moderate_refusal(actor: Participant) -> Rejected | None:
    if not actor.staff:
        return Rejected("Only the group's facilitators can do that.", code=Code.FORBIDDEN)
    return None


def post_block(state: RoomState, actor: Participant, now: float) -> Code | None:
    """Why ``actor`` can't post now, as a code, for as long as the room stays as it is: what
    their composer says. Slow mode and rate limits are not in it — they follow a post, and
    come back as its refusal with the wait."""
    if state.phase == "ended":
        return Code.SESSION_ENDED
    if actor.staff:
        return None
    return member_block(state, actor, now, *room_block(state))


def room_block(state: RoomState) -> tuple[Code | None, str | None]:
    """The room's part of every member's :func:`post_block` (worked out once a step when
    every member's is needed): not started or paused, and who alone may speak."""
    holder = state.round.holder if state.round is not None else None
    speaker = holder if holder is not None else state.floor
    if state.phase == "lobby":
        return Code.NOT_STARTED, speaker
    return (Code.PAUSED if state.pause is not None else None), speaker


def member_block(
    state: RoomState, actor: Participant, now: float, room: Code | None, speaker: str | None
) -> Code | None:
    """A member's :func:`post_block`, given the room's part: their own reasons come first."""
    if actor.user_id not in state.agreed:
        return Code.AGREEMENT_REQUIRED
    if actor.mode == "listener":
        return Code.LISTENING
    if actor.muted(now):
        return Code.MUTED
    if room is not None:
        return room
    if speaker is not None and speaker != actor.user_id:
        return Code.NOT_YOUR_TURN
    return None


def block_refusal(state: RoomState, code: Code) -> Rejected:
    """The refusal for a :func:`post_block` code, in the words a member would want."""
    if code is Code.NOT_YOUR_TURN:
        if state.round is not None and state.round.holder is not None:
            return Rejected(
                f"It's {_name(state, state.round.holder)}'s turn to share. You can still "
                "react, and your turn will come.",
                code=code,
            )
        return Rejected(
            f"It's {_name(state, state.floor or '')}'s turn to speak: a facilitator gave them "
            "the floor. You can still react, and raise your hand to speak next.",
            code=code,
        )
    if code is Code.PAUSED and state.pause is not None and state.pause.reason != "no_facilitator":
        return Rejected(
            "The group is paused. Only facilitators can post until it resumes.", code=code
        )
    return Rejected(_BLOCKS[code], code=code)


_BLOCKS = {
    Code.SESSION_ENDED: "This session has ended.",
    Code.AGREEMENT_REQUIRED: "Please read and affirm the group agreement before you share.",
    Code.LISTENING: "You're listening right now. Choose to share when you're ready.",
    Code.MUTED: "A facilitator has paused your messages for now.",
    Code.NOT_STARTED: "The group hasn't started yet. You can post once it begins.",
    Code.PAUSED: "The group is paused until a facilitator is back.",
}


def post_refusal(state: RoomState, actor: Participant, now: float) -> Rejected | None:
    """Why ``actor`` may not post right now (rate limits are checked separately)."""
    code = post_block(state, actor, now)
    if code is not None:
        return block_refusal(state, code)
    stats = state.stats.get(actor.user_id)
    if (
        state.slow_mode
        and not actor.staff
        and stats
        and stats.last_post_at is not None
        and stats.last_post_at >= state.slow_mode_since
    ):
        wait = stats.last_post_at + state.slow_mode - now
        if wait > 0:
            seconds = math.ceil(wait)
            return Rejected(
                f"The group is taking it slowly: you can post again in {seconds} s.",
                code=Code.SLOW_MODE,
                retry_after=seconds,
            )
    return None


def post_state(state: RoomState, actor: Participant, now: float) -> dict[str, str | None]:
    """What a member's composer shows: the block's code and words, or nulls."""
    code = post_block(state, actor, now)
    if code is None:
        return {"code": None, "message": None}
    return {"code": code.value, "message": block_refusal(state, code).message}


def _name(state: RoomState, user_id: str) -> str:
    p = state.participants.get(user_id)
    return p.name if p is not None else "someone"


def react_refusal(state: RoomState, actor: Participant) -> Rejected | None:
    """Reacting is open to everyone present, listeners included; it is how listeners take part."""
    if state.phase == "ended":
        return Rejected("This session has ended.", code=Code.SESSION_ENDED)
    return None


def holds_piece_refusal(state: RoomState, actor: Participant) -> Rejected | None:
    """Done and pass belong to the talking piece's holder, or to whoever has the floor."""
    if state.round is None and state.floor is None:
        return Rejected("There's no round going on.", code=Code.NO_ROUND)
    if actor.user_id not in (state.round.holder if state.round else None, state.floor):
        return Rejected("It isn't your turn right now.", code=Code.NOT_YOUR_TURN)
    return None
