"""A live session's state: who is present, in which mode, and what was said.

Plain mutable dataclasses, owned by the live hub and changed only by
:func:`holdspace.core.room.apply`. Message text lives here and in the hub's
event log only for the session's lifetime; nothing here is ever written to disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from holdspace.core.commands import Mode, RoomRole

Phase = Literal["lobby", "live", "ended"]


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket's shape: ``burst`` actions at once, refilled at ``per_second``."""

    burst: float
    per_second: float


@dataclass(frozen=True, slots=True)
class RoomConfig:
    """The rules a session was opened with; fixed for its lifetime."""

    room_id: str
    session_key: str
    name: str
    capacity: int  # members present at most; facilitators and admins hold seats outside it
    starts_at: float
    ends_at: float
    grace_seconds: float = 120.0  # how long a dropped member keeps their seat
    post_rate: Rate = Rate(burst=5, per_second=1 / 3)
    react_rate: Rate = Rate(burst=20, per_second=2)
    message_buffer: int = 200  # recent messages kept for newcomers' snapshots
    max_mute_minutes: int = 24 * 60


@dataclass(slots=True)
class Bucket:
    tokens: float
    updated_at: float

    def take(self, rate: Rate, now: float) -> bool:
        self.tokens = min(rate.burst, self.tokens + (now - self.updated_at) * rate.per_second)
        self.updated_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def wait(self, rate: Rate) -> float:
        return (1 - self.tokens) / rate.per_second


@dataclass(slots=True)
class Participant:
    user_id: str
    name: str
    role: RoomRole
    joined_at: float
    mode: Mode = "listener"  # everyone arrives listening; sharing is opted into
    conns: set[str] = field(default_factory=set)  # open connections; empty while away
    away_since: float | None = None  # set when the last connection dropped
    muted_until: float | None = None  # math.inf: until unmuted
    posts: Bucket | None = None
    reacts: Bucket | None = None

    @property
    def staff(self) -> bool:
        return self.role != "member"

    def muted(self, now: float) -> bool:
        return self.muted_until is not None and now < self.muted_until


@dataclass(slots=True)
class MessageRecord:
    seq: int
    user_id: str
    name: str
    text: str | None  # None once redacted
    at: float
    reactions: dict[str, set[str]] = field(default_factory=dict)  # kind -> who


@dataclass(slots=True)
class PauseInfo:
    by: str | None  # None: the room paused itself
    message: str | None
    at: float


@dataclass(slots=True)
class RoomState:
    config: RoomConfig
    epoch: str  # changes whenever this session's sequence could restart
    seq: int = 0  # seq of the last event emitted
    phase: Phase = "lobby"
    pause: PauseInfo | None = None
    participants: dict[str, Participant] = field(default_factory=dict)  # arrival order
    agreed: set[str] = field(default_factory=set)  # affirmed the agreement this session
    messages: dict[int, MessageRecord] = field(default_factory=dict)  # by seq, oldest first

    def members_present(self) -> int:
        """Seats taken against capacity: members here or within their grace period."""
        return sum(1 for p in self.participants.values() if not p.staff)


INDEFINITE = math.inf
