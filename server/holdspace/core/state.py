"""A live session's state: who is present, in which mode, and what was said.

Plain mutable dataclasses, owned by the live hub and changed only by
:func:`holdspace.core.room.apply`. Message text lives here and in the hub's
event log only for the session's lifetime; nothing here is ever written to disk.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, TypeVar, cast

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
    guidelines: str = ""  # the group agreement, shown when joining
    crisis_resources: str = ""  # always one request away
    waiting_room: bool = False  # arrivals wait for a facilitator to admit them (at the start)
    show_passes: bool = False  # members see who passed in a round; by default only facilitators


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


UNTOLD = "?"  # see Participant.post_told


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
    notes: Bucket | None = None  # whispers: apart from posts, so posting never holds one back
    # The post_block code this person was last told (None: may post); UNTOLD until their
    # snapshot first says it.
    post_told: str | None = UNTOLD

    @property
    def staff(self) -> bool:
        return self.role != "member"

    def muted(self, now: float) -> bool:
        return self.muted_until is not None and now < self.muted_until


@dataclass(slots=True)
class Stats:
    """A member's participation this session, for the facilitators' balance view.
    Kept by user, so leaving and coming back doesn't reset it."""

    name: str = ""  # as they were known in this session, even after they leave
    role: RoomRole = "member"
    turns: int = 0  # round turns finished with done
    passes: int = 0
    posts: int = 0
    whispers: int = 0  # sent this session: numbers this member's whispers
    last_spoke_at: float | None = None
    last_post_at: float | None = None  # for slow mode


NO_REACTIONS: Mapping[str, frozenset[str]] = MappingProxyType({})


class MessageRecord(NamedTuple):
    """A recent message. Never changed in place — a reaction or a redaction puts a new
    record in its seat (``_replace``) — so what a step changed is what it replaced. A
    tuple: one is made for every post, and a frozen dataclass takes three times as long."""

    seq: int
    user_id: str
    name: str
    text: str | None  # None once redacted
    at: float
    sensitive: bool = False  # shown collapsed until opened
    reactions: Mapping[str, frozenset[str]] = NO_REACTIONS  # kind -> who
    role: RoomRole = "member"  # the author's role, shown beside their name


K = TypeVar("K")
V = TypeVar("V")


class Tracked(dict[K, V]):
    """A dict that, while asked to, notes which keys were written or dropped. A hub that
    stores each entry apart (the recent messages, the receipts) rewrites only those: what
    changed is recorded as the core writes, so no rule has to remember to say so. Values
    are never changed in place — a new one is put in the seat — or it couldn't know."""

    __slots__ = ("_dropped", "_written")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._written: set[K] | None = None  # None: not tracking
        self._dropped: set[K] = set()

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        if self._written is not None:
            self._written.add(key)

    def __delitem__(self, key: K) -> None:
        super().__delitem__(key)
        if self._written is not None:
            self._dropped.add(key)

    def track(self) -> None:
        """Start noting writes and drops (until :meth:`changes`)."""
        self._written, self._dropped = set(), set()

    def changes(self) -> tuple[list[K], list[K]]:
        """The keys written and still here, and those dropped, since :meth:`track`; stops
        tracking."""
        written, dropped = self._written or (), self._dropped
        self._written, self._dropped = None, set()
        return [k for k in written if k in self], [k for k in dropped if k not in self]


# A message as the buffer keeps it: MessageRecord's fields in order, with the reactions
# flattened into one tuple (kind, how many, who..., kind, ...), who sorted. Only
# numbers, strings, flags and a tuple of them, so the collector stops tracking it in
# the first passes that see it (the inner tuple first, then the record).
_Kept = tuple[Any, ...]


def _keep(m: MessageRecord) -> _Kept:
    reactions: list[str | int] = []
    for kind, who in m.reactions.items():
        reactions += (kind, len(who), *sorted(who))
    return (m.seq, m.user_id, m.name, m.text, m.at, m.sensitive, tuple(reactions), m.role)


def _record(kept: _Kept) -> MessageRecord:
    seq, user_id, name, text, at, sensitive, flat, role = kept
    if not flat:
        return MessageRecord(seq, user_id, name, text, at, sensitive, NO_REACTIONS, role)
    reactions: dict[str, frozenset[str]] = {}
    i = 0
    while i < len(flat):
        count = flat[i + 1]
        reactions[flat[i]] = frozenset(flat[i + 2 : i + 2 + count])
        i += 2 + count
    return MessageRecord(seq, user_id, name, text, at, sensitive, reactions, role)


class MessageBuffer(Tracked[int, MessageRecord]):
    """The recent messages by seq, oldest first: up to 200 per session, each kept until
    it is pushed out, which under load is longer than the collector's young generation
    lasts. As named tuples the collector went on walking every one in each older
    generation's pass; they are kept as plain tuples (see :func:`_keep`), and read back
    as :class:`MessageRecord` (docs/PERFORMANCE.md)."""

    __slots__ = ()

    def __init__(self, records: Iterable[tuple[int, MessageRecord]] = ()) -> None:
        super().__init__()
        for seq, m in records:
            self[seq] = m

    def __setitem__(self, key: int, value: MessageRecord) -> None:
        super().__setitem__(key, cast(MessageRecord, _keep(value)))

    def __getitem__(self, key: int) -> MessageRecord:
        return _record(cast(_Kept, super().__getitem__(key)))

    def get(self, key: int, default: None = None) -> MessageRecord | None:  # type: ignore[override]
        kept = dict.get(self, key)
        return None if kept is None else _record(cast(_Kept, kept))

    def values(self) -> list[MessageRecord]:  # type: ignore[override]
        return [_record(cast(_Kept, kept)) for kept in dict.values(self)]

    def items(self) -> list[tuple[int, MessageRecord]]:  # type: ignore[override]
        return [(seq, _record(cast(_Kept, kept))) for seq, kept in dict.items(self)]

    def pop(self, key: int, default: None = None) -> MessageRecord | None:  # type: ignore[override]
        if key not in self:
            return default
        value = self[key]
        del self[key]
        return value


# What each state-changing command sent with a client id answered, by "<user> <cid>":
# sent again, it gets the same answer and is not applied twice (see core.receipts).
Receipts = Tracked[str, Mapping[str, Any]]


@dataclass(slots=True)
class Waiting:
    """Someone at the door: arrived mid-share (``door``) or waiting to be admitted."""

    user_id: str
    name: str
    role: RoomRole
    since: float
    place: Literal["door", "waiting_room"]
    conns: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Round:
    """A go-around: the talking piece passes through ``queue`` one holder at a time."""

    id: int  # seq of its round_started event
    prompt: str | None
    kind: str | None  # check_in, check_out, custom
    turn_seconds: float | None
    order: list[str]  # as the round started, for its summary
    queue: list[str]  # still to be offered the piece, in order
    holder: str | None = None
    deadline: float | None = None  # the holder is timed out after this
    second_chance: bool = False  # the piece is going round again to those who passed
    outcomes: dict[str, str] = field(default_factory=dict)  # first time round
    second: dict[str, str] = field(default_factory=dict)  # the second chance
    passed: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Whisper:
    """One line of a member's private thread with the facilitators: the member's own
    ("I need a moment", ``text`` None when they sent no words) or a facilitator's reply."""

    id: str  # per author ("<user>-<n>"), so nobody can count others' whispers
    user_id: str  # the member whose thread this is
    name: str  # the member's name
    text: str | None
    at: float
    by: str | None = None  # a facilitator's reply: who wrote it
    by_name: str | None = None


@dataclass(slots=True)
class PauseInfo:
    by: str | None  # None: the room paused itself
    message: str | None
    at: float
    reason: Literal["facilitator", "no_facilitator"] = "facilitator"


@dataclass(slots=True)
class RoomState:
    config: RoomConfig
    epoch: str  # changes whenever this session's sequence could restart
    seq: int = 0  # seq of the last event emitted
    phase: Phase = "lobby"
    pause: PauseInfo | None = None
    participants: dict[str, Participant] = field(default_factory=dict)  # arrival order
    agreed: set[str] = field(default_factory=set)  # affirmed the agreement this session
    messages: MessageBuffer = field(default_factory=MessageBuffer)  # oldest first
    receipts: Receipts = field(default_factory=lambda: Receipts())  # oldest first
    stats: dict[str, Stats] = field(default_factory=dict)
    round: Round | None = None
    hands: list[str] = field(default_factory=list)  # raised, first come first
    waiting: dict[str, Waiting] = field(default_factory=dict)  # not in the room yet
    admitted: set[str] = field(default_factory=set)  # through the waiting room already
    removed: set[str] = field(default_factory=set)  # may not come back this session
    locked: bool = False  # no new arrivals
    slow_mode: float | None = None  # seconds between a member's posts
    slow_mode_since: float = 0.0  # posts before slow mode began don't count against it
    whispers: list[Whisper] = field(default_factory=list)  # for the facilitators, newest last
    floor: str | None = None  # the member a facilitator gave the floor to, outside rounds
    waiting_room: bool = False  # arrivals wait to be admitted; starts as the config says
    rounds_held: int = 0  # for the facilitators' end-of-session summary

    def __post_init__(self) -> None:
        self.waiting_room = self.config.waiting_room

    def members_present(self) -> int:
        """Seats taken against capacity: members here, within their grace period, or held
        at the door mid-share (they are coming in)."""
        here = sum(1 for p in self.participants.values() if not p.staff)
        return here + sum(1 for w in self.waiting.values() if w.place == "door")

    def keeper_present(self) -> bool:
        """A facilitator (or admin) is connected right now."""
        return any(p.staff and p.conns for p in self.participants.values())

    def staff_ids(self) -> tuple[str, ...]:
        return tuple(p.user_id for p in self.participants.values() if p.staff)

    def stats_of(self, user_id: str) -> Stats:
        return self.stats.setdefault(user_id, Stats())


INDEFINITE = math.inf
