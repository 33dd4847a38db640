"""Room events: what a room tells everyone present.

Every event carries the room's ``seq`` (strictly increasing, no gaps) and the
instant it happened. The wire layer turns each into one JSON frame, once, for all
recipients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

LeaveReason = Literal["left", "timed_out"]


@dataclass(frozen=True, slots=True)
class Event:
    type: ClassVar[str]
    seq: int
    at: float


@dataclass(frozen=True, slots=True)
class ParticipantView:
    user_id: str
    name: str
    role: str
    mode: str
    agreed: bool


@dataclass(frozen=True, slots=True)
class Joined(Event):
    type: ClassVar[str] = "joined"
    participant: ParticipantView


@dataclass(frozen=True, slots=True)
class Away(Event):
    """The member's connection dropped; their seat is held for the grace period."""

    type: ClassVar[str] = "away"
    user_id: str


@dataclass(frozen=True, slots=True)
class Back(Event):
    type: ClassVar[str] = "back"
    user_id: str


@dataclass(frozen=True, slots=True)
class Left(Event):
    type: ClassVar[str] = "left"
    user_id: str
    reason: LeaveReason


@dataclass(frozen=True, slots=True)
class Agreed(Event):
    type: ClassVar[str] = "agreed"
    user_id: str


@dataclass(frozen=True, slots=True)
class ModeChanged(Event):
    type: ClassVar[str] = "mode"
    user_id: str
    mode: str


@dataclass(frozen=True, slots=True)
class MessagePosted(Event):
    """``seq`` doubles as the message id; ``text`` is None once redacted."""

    type: ClassVar[str] = "message"
    user_id: str
    name: str
    text: str | None
    redacted: bool = False


@dataclass(frozen=True, slots=True)
class ReactionCounted(Event):
    type: ClassVar[str] = "reaction"
    message: int
    kind: str
    count: int


@dataclass(frozen=True, slots=True)
class Muted(Event):
    type: ClassVar[str] = "muted"
    user_id: str
    by: str
    until: float | None  # None: until a facilitator unmutes


@dataclass(frozen=True, slots=True)
class Unmuted(Event):
    type: ClassVar[str] = "unmuted"
    user_id: str
    by: str | None  # None: the mute's time ran out


@dataclass(frozen=True, slots=True)
class Paused(Event):
    type: ClassVar[str] = "paused"
    by: str | None
    message: str | None


@dataclass(frozen=True, slots=True)
class Resumed(Event):
    type: ClassVar[str] = "resumed"
    by: str | None


@dataclass(frozen=True, slots=True)
class SessionStarted(Event):
    type: ClassVar[str] = "session_started"


@dataclass(frozen=True, slots=True)
class SessionEnded(Event):
    type: ClassVar[str] = "session_ended"
    by: str | None  # None: the scheduled end arrived


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        Joined,
        Away,
        Back,
        Left,
        Agreed,
        ModeChanged,
        MessagePosted,
        ReactionCounted,
        Muted,
        Unmuted,
        Paused,
        Resumed,
        SessionStarted,
        SessionEnded,
    )
}


@dataclass(frozen=True, slots=True)
class RecordModeration:
    """An effect: append this to the room's moderation record (never message text)."""

    action: str
    actor_id: str | None
    target_id: str | None = None
    reason: str | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RecordAgreement:
    """An effect: remember durably that this member affirmed the agreement this session."""

    user_id: str


Effect = RecordModeration | RecordAgreement
