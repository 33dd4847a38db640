"""Building rooms and driving the pure core in tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core.room import Transition, apply
from holdspace.core.state import RoomConfig, RoomState

T0 = 1_800_000_000.0  # an arbitrary instant; the session starts here


def config(**overrides: object) -> RoomConfig:
    values: dict[str, object] = {
        "room_id": "room_test",
        "session_key": "room_test:1800000000",
        "name": "Tuesday circle",
        "capacity": 3,
        "starts_at": T0,
        "ends_at": T0 + 90 * 60,
    }
    values.update(overrides)
    return RoomConfig(**values)  # type: ignore[arg-type]


@dataclass
class Room:
    """A room plus a clock, recording every event so tests can assert on the stream."""

    state: RoomState = field(default_factory=lambda: RoomState(config=config(), epoch="e1"))
    now: float = T0
    events: list[e.Event] = field(default_factory=list)
    keeper: bool = True  # a facilitator present from the start, as a live group needs

    def __post_init__(self) -> None:
        if self.keeper:
            self.now -= 1  # in the lobby, so the session starts with the first command
            self.ok("keeper", c.Join("keeper-conn", "Keeper", "facilitator"))
            self.now += 1

    def do(self, actor: str | None, cmd: c.Command) -> Transition:
        before = self.state.seq
        t = apply(self.state, actor, cmd, self.now)
        assert [ev.seq for ev in t.events] == list(range(before + 1, self.state.seq + 1))
        self.events.extend(t.events)
        return t

    def ok(self, actor: str | None, cmd: c.Command) -> Transition:
        t = self.do(actor, cmd)
        assert t.error is None, t.error and t.error.to_dict()
        return t

    def refused(self, actor: str, cmd: c.Command) -> str:
        t = self.do(actor, cmd)
        assert t.error is not None, f"{cmd} was allowed"
        return t.error.code

    def join(self, user: str, role: c.RoomRole = "member", *, agreed: bool = False) -> None:
        self.ok(user, c.Join(conn=f"{user}-conn", name=user.title(), role=role, agreed=agreed))

    def sharer(self, user: str) -> None:
        """Join, affirm the agreement and opt in to share."""
        self.join(user)
        self.ok(user, c.Agree())
        self.ok(user, c.SetMode("sharer"))

    def types(self, t: Transition) -> list[str]:
        return [ev.type for ev in t.events]


def private(t: Transition) -> list[e.Notice]:
    """A step's notices but the composers' ``post_state``s (tests of those look at them)."""
    return [n for n in t.notices if not isinstance(n, e.PostState)]
