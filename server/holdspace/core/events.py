"""Room events: what a room tells everyone present.

Every event carries the room's ``seq`` (strictly increasing, no gaps) and the
instant it happened. The wire layer turns each into one JSON frame, once, for all
recipients.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

LeaveReason = Literal["left", "timed_out", "removed"]


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
    sensitive: bool = False
    role: str = "member"  # the author's role in the room: member, facilitator or admin


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
    reason: str = "facilitator"  # or "no_facilitator": the room paused itself


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


@dataclass(frozen=True, slots=True)
class Redacted(Event):
    type: ClassVar[str] = "redacted"
    message: int
    by: str


@dataclass(frozen=True, slots=True)
class RoundStarted(Event):
    type: ClassVar[str] = "round_started"
    kind: str | None
    prompt: str | None
    order: tuple[str, ...]
    turn_seconds: float | None
    by: str


@dataclass(frozen=True, slots=True)
class Turn(Event):
    """The talking piece moves to ``user_id``."""

    type: ClassVar[str] = "turn"
    user_id: str
    second_chance: bool
    deadline: float | None
    queue: tuple[str, ...]  # who is still to come, in order


@dataclass(frozen=True, slots=True)
class TurnEnded(Event):
    """How a turn ended: done, passed, timed_out, skipped (a facilitator moved on, or the
    member was no longer sharing) or left (the holder left the room)."""

    type: ClassVar[str] = "turn_ended"
    user_id: str
    outcome: str
    second_chance: bool


@dataclass(frozen=True, slots=True)
class RoundReordered(Event):
    type: ClassVar[str] = "round_order"
    queue: tuple[str, ...]
    by: str


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    user_id: str
    outcome: str  # a turn outcome, or not_reached (the round ended first)
    second_chance: str | None  # the outcome of their second chance, if they had one


@dataclass(frozen=True, slots=True)
class RoundEnded(Event):
    type: ClassVar[str] = "round_ended"
    summary: tuple[RoundOutcome, ...]
    by: str | None  # None: everyone had their turn


@dataclass(frozen=True, slots=True)
class HandRaised(Event):
    type: ClassVar[str] = "hand_raised"
    user_id: str
    queue: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HandLowered(Event):
    type: ClassVar[str] = "hand_lowered"
    user_id: str
    by: str | None  # a facilitator lowered it; None: they lowered their own
    queue: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FloorGiven(Event):
    type: ClassVar[str] = "floor"
    user_id: str
    by: str
    queue: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FloorEnded(Event):
    """The floor is open again: its holder gave it back (``done``, whether they spoke or
    passed: nobody needs to know which), a facilitator ended it or started a round
    (``ended``), or the holder left or lost their connection (``left``)."""

    type: ClassVar[str] = "floor_ended"
    user_id: str
    outcome: str
    by: str | None  # the facilitator who ended it; None otherwise


@dataclass(frozen=True, slots=True)
class HandsCleared(Event):
    type: ClassVar[str] = "hands_cleared"
    by: str


@dataclass(frozen=True, slots=True)
class Locked(Event):
    type: ClassVar[str] = "locked"
    by: str


@dataclass(frozen=True, slots=True)
class Unlocked(Event):
    type: ClassVar[str] = "unlocked"
    by: str


@dataclass(frozen=True, slots=True)
class WaitingRoomSet(Event):
    """Arrivals from now on wait to be admitted (``on``), or come straight in."""

    type: ClassVar[str] = "waiting_room"
    on: bool
    by: str | None


@dataclass(frozen=True, slots=True)
class SlowModeSet(Event):
    type: ClassVar[str] = "slow_mode"
    seconds: float | None
    by: str


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
        Redacted,
        RoundStarted,
        Turn,
        TurnEnded,
        RoundReordered,
        RoundEnded,
        HandRaised,
        HandLowered,
        FloorGiven,
        FloorEnded,
        HandsCleared,
        Locked,
        Unlocked,
        SlowModeSet,
        WaitingRoomSet,
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


@dataclass(frozen=True, slots=True)
class BarMember:
    """An effect: keep this member out of the room's future sessions."""

    user_id: str
    by: str
    reason: str | None


Effect = RecordModeration | RecordAgreement | BarMember


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """A frame for particular people, outside the room's sequence: never numbered, never
    replayed. Whatever it says can also be rebuilt from state (the snapshot), so a
    notice lost to a dropped connection loses nothing.

    ``to`` are its recipients; ``seq`` the room event it follows (None: after the
    step's last). ``gate``: True shuts the recipients' connections off from room events
    (removed, held at the door); False opens them again after ``seq`` (admitted, with
    their snapshot). The wire layer writes one frame of ``type`` with :meth:`body`.
    """

    type: ClassVar[str]
    gate: ClassVar[bool | None] = None
    to: tuple[str, ...]
    seq: int | None = None

    def body(self) -> dict[str, Any]:
        """The frame's fields: everything but the addressing."""
        return {name: getattr(self, name) for name in _notice_fields(type(self))}


_NOTICE_FIELDS: dict[type, tuple[str, ...]] = {}


def _notice_fields(cls: type) -> tuple[str, ...]:
    names = _NOTICE_FIELDS.get(cls)
    if names is None:
        names = tuple(f.name for f in fields(cls) if f.name not in ("to", "seq"))
        _NOTICE_FIELDS[cls] = names
    return names


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrival(Notice):
    """To facilitators: someone is at the door (a waiting room, or mid-share)."""

    type: ClassVar[str] = "arrival"
    user_id: str
    name: str
    place: str
    since: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ArrivalLeft(Notice):
    """To facilitators: someone waiting at the door has gone."""

    type: ClassVar[str] = "arrival_left"
    user_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WhisperSent(Notice):
    """A whisper or a facilitator's reply, to its thread's member and the facilitators."""

    type: ClassVar[str] = "whisper"
    id: str
    user_id: str
    name: str
    text: str | None
    at: float
    by: str | None
    by_name: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnOutcome(Notice):
    """To facilitators: what a turn really ended with, when the room was told less."""

    type: ClassVar[str] = "turn_outcome"
    user_id: str
    outcome: str
    second_chance: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Admitted(Notice):
    """To someone let in from the door: their snapshot, as of ``seq``."""

    type: ClassVar[str] = "admitted"
    gate: ClassVar[bool | None] = False
    snapshot: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return self.snapshot


@dataclass(frozen=True, slots=True, kw_only=True)
class SentOff(Notice):
    """To someone who won't be in the room: kind words and where to turn."""

    gate: ClassVar[bool | None] = True
    message: str
    crisis_resources: str
    crisis_resources_html: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Removed(SentOff):
    type: ClassVar[str] = "removed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Declined(SentOff):
    type: ClassVar[str] = "declined"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedOut(Notice):
    """To the connections of a sign-in that was revoked (``to`` names the sign-in, not a
    person: see :class:`~holdspace.core.commands.SignOut`). It sits in the room's order,
    so every worker closes those connections before anything said after it, however
    late it hears of it."""

    type: ClassVar[str] = "signed_out"
    gate: ClassVar[bool | None] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOver(Notice):
    """To those still waiting at the door when the session ends."""

    type: ClassVar[str] = "session_over"
    gate: ClassVar[bool | None] = True
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSummary(Notice):
    """To facilitators as the session ends: how it went, in counts only, and who came."""

    type: ClassVar[str] = "session_summary"
    members: int
    rounds: int
    shares: int
    passes: int
    messages: int
    whispers: int
    removals: int
    came: list[dict[str, str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class PostState(Notice):
    """To one person: why they can't post now (a code and its words), or nulls when they
    can — sent whenever it changes, so no client re-derives the room's rules."""

    type: ClassVar[str] = "post_state"
    code: str | None
    message: str | None
