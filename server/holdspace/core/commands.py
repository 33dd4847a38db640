"""Room commands: what a participant (or time itself) asks of a room.

Each is a small frozen dataclass. The wire layer parses client frames into
these; the core applies them. ``Tick`` and ``Disconnect`` never come from a
client: the edge issues them.
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
class Tick:
    """Time has passed: start the session, expire mutes and held seats, end the session."""


Command = (
    Join
    | Disconnect
    | Leave
    | Agree
    | SetMode
    | Post
    | React
    | Mute
    | Unmute
    | Pause
    | Resume
    | EndSession
    | Tick
)
