"""Room commands: what a participant (or time itself) asks of a room.

Each is a small frozen dataclass. The wire layer parses client frames into
these; the core applies them. ``Tick``, ``Disconnect`` and ``Reconfigure`` never
come from a client: the edge and the services issue them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["listener", "sharer"]
RoomRole = Literal["member", "facilitator", "admin"]
REACTIONS: tuple[str, ...] = ("me_too", "heart", "thank_you")


@dataclass(frozen=True, slots=True)
class Join:
    conn: str  # the connection joining; one participant may hold several
    name: str
    role: RoomRole
    agreed: bool = False  # already affirmed the agreement this session (durable record)


@dataclass(frozen=True, slots=True)
class Disconnect:
    """A connection dropped without leaving: the seat is held for the grace period."""

    conn: str


@dataclass(frozen=True, slots=True)
class Leave:
    """Leave from one connection; the seat is given up when no other connection remains.
    ``conn=None`` leaves from everywhere."""

    conn: str | None = None


@dataclass(frozen=True, slots=True)
class Agree:
    pass


@dataclass(frozen=True, slots=True)
class SetMode:
    mode: Mode


@dataclass(frozen=True, slots=True)
class Post:
    text: str
    sensitive: bool = False  # a content warning: shown collapsed until opened


@dataclass(frozen=True, slots=True)
class React:
    message: int  # the seq of the message event
    kind: str


@dataclass(frozen=True, slots=True)
class Mute:
    target: str
    minutes: float | None = None  # None: until unmuted
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Unmute:
    target: str


@dataclass(frozen=True, slots=True)
class Pause:
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    pass


@dataclass(frozen=True, slots=True)
class EndSession:
    pass


@dataclass(frozen=True, slots=True)
class Redact:
    message: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Whisper:
    """A private note to the room's facilitators; without words it says "I need a moment"."""

    text: str | None = None


@dataclass(frozen=True, slots=True)
class WhisperReply:
    """A facilitator answers a member privately, in the member's thread."""

    target: str
    text: str


@dataclass(frozen=True, slots=True)
class WhoReacted:
    """Names behind a message's reaction counts: for its author and facilitators only."""

    message: int


@dataclass(frozen=True, slots=True)
class Crisis:
    """The crisis resources, on request, to anyone present."""


RoundOrder = Literal["arrival", "quietest"]
ROUND_KINDS: tuple[str, ...] = ("check_in", "check_out", "custom")


@dataclass(frozen=True, slots=True)
class StartRound:
    kind: str | None = None  # check_in, check_out or custom
    prompt: str | None = None
    order: RoundOrder = "arrival"
    turn_seconds: float | None = None  # time out a silent holder after this


@dataclass(frozen=True, slots=True)
class Done:
    """The holder finished sharing."""


@dataclass(frozen=True, slots=True)
class Pass:
    """The holder passes the talking piece on; no reason is ever asked."""


@dataclass(frozen=True, slots=True)
class SkipTurn:
    pass


@dataclass(frozen=True, slots=True)
class ReorderRound:
    order: tuple[str, ...]  # the members still waiting for a turn, in their new order


@dataclass(frozen=True, slots=True)
class EndRound:
    pass


@dataclass(frozen=True, slots=True)
class RaiseHand:
    pass


@dataclass(frozen=True, slots=True)
class LowerHand:
    target: str | None = None  # a facilitator may lower someone else's


@dataclass(frozen=True, slots=True)
class GiveFloor:
    """Give the floor to a member: the first raised hand unless ``target`` names one."""

    target: str | None = None


@dataclass(frozen=True, slots=True)
class EndFloor:
    """A facilitator opens the floor again."""


@dataclass(frozen=True, slots=True)
class ClearHands:
    pass


@dataclass(frozen=True, slots=True)
class Remove:
    target: str
    bar: bool = False  # also keep them out of future sessions
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Lock:
    pass


@dataclass(frozen=True, slots=True)
class Unlock:
    pass


@dataclass(frozen=True, slots=True)
class Admit:
    target: str


@dataclass(frozen=True, slots=True)
class Decline:
    target: str


@dataclass(frozen=True, slots=True)
class SetWaitingRoom:
    """Arrivals from now on wait to be admitted (``on``) or come straight in."""

    on: bool


@dataclass(frozen=True, slots=True)
class Reconfigure:
    """The group's settings changed while its session is live (never from a client: the
    service sends it on a facilitator's behalf, who may not be in the room)."""

    waiting_room: bool


@dataclass(frozen=True, slots=True)
class SlowMode:
    seconds: float  # 0 turns it off


@dataclass(frozen=True, slots=True)
class Balance:
    """The facilitators' participation-balance view."""


@dataclass(frozen=True, slots=True)
class SignOut:
    """A sign-in was revoked: its connections here hear nothing after this point. ``device``
    names the sign-in (or all of someone's: :mod:`holdspace.auth.tokens`)."""

    device: str


@dataclass(frozen=True, slots=True)
class Tick:
    """Time has passed: start the session, expire mutes and held seats, end the session."""


Command = (
    Join | Disconnect | Leave | Agree | SetMode | Post | React | Mute | Unmute | Pause | Resume
    | EndSession | Redact | Whisper | WhisperReply | WhoReacted | Crisis | StartRound | Done
    | Pass | SkipTurn | ReorderRound | EndRound | RaiseHand | LowerHand | GiveFloor | EndFloor
    | ClearHands | Remove | Lock | Unlock | Admit | Decline | SetWaitingRoom | Reconfigure
    | SlowMode | Balance | SignOut | Tick
)  # fmt: skip
