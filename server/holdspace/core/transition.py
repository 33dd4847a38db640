"""What applying one command produces, and the one way to emit an event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from holdspace.core import events as e
from holdspace.core.state import Participant, RoomState
from holdspace.errors import ClientError, Code, NotFound, Rejected


@dataclass(slots=True)
class Transition:
    events: list[e.Event] = field(default_factory=list)
    effects: list[e.Effect] = field(default_factory=list)
    notices: list[e.Notice] = field(default_factory=list)  # to particular people, unsequenced
    replaced: list[e.Event] = field(default_factory=list)  # log entries rewritten, by seq
    reply: dict[str, Any] = field(default_factory=dict)  # for the actor only
    ended: bool = False  # the session is over: drop its state and log
    error: ClientError | None = None  # the command was refused; nothing of it applied
    # When time next acts on the session by itself (None once it has ended), and whether
    # this step brought that moment forward: a hub keeps an index of these, so that only
    # sessions whose moment has come are ticked (see ``room.next_deadline``).
    deadline: float | None = None
    sooner: bool = False


def emit(state: RoomState, t: Transition, cls: type[e.Event], now: float, **fields: Any) -> Any:
    """Append an event with the room's next seq."""
    state.seq += 1
    event = cls(seq=state.seq, at=now, **fields)
    t.events.append(event)
    return event


def view(state: RoomState, p: Participant) -> e.ParticipantView:
    return e.ParticipantView(p.user_id, p.name, p.role, p.mode, p.user_id in state.agreed)


def record(t: Transition, action: str, actor: str | None, target: str | None = None,
           reason: str | None = None, **detail: Any) -> None:  # fmt: skip
    """Append to the moderation record: who did what to whom, when, why — never text."""
    t.effects.append(e.RecordModeration(action, actor, target, reason, detail or None))


def target(state: RoomState, user_id: str) -> Participant:
    found = state.participants.get(user_id)
    if found is None:
        raise NotFound("That person isn't in the room.", code=Code.NO_SUCH_PARTICIPANT)
    return found


def require_staff(p: Participant) -> None:
    if not p.staff:
        raise Rejected("Only the group's facilitators can do that.", code=Code.FORBIDDEN)
