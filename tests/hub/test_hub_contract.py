"""The live hub contract, run against every backend.

A hub must apply steps atomically, publish their events once and in order,
keep a log that proves what it holds, rewrite redacted entries, and forget an
ended session completely.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core.room import Transition, apply
from holdspace.core.state import RoomState
from holdspace.core.transition import emit
from holdspace.live.base import Delivery, LiveHub, Step
from tests.core.helpers import T0, config
from tests.hub.conftest import HubFactory

KEY = "room_test:1800000000"


class Recorder:
    def __init__(self) -> None:
        self.got: list[Delivery] = []
        self.arrived = asyncio.Event()

    def deliver(self, batch: Sequence[Delivery]) -> None:
        self.got.extend(batch)
        self.arrived.set()

    def lost(self) -> None:
        raise AssertionError("a healthy hub never loses track")

    def alert(self, frame: str) -> None:
        raise AssertionError(f"a healthy hub raises no alerts: {frame}")

    def seqs(self) -> list[int]:
        return [d.seq for d in self.got]

    async def until(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.got) < count:
                self.arrived.clear()
                await self.arrived.wait()


def fresh(epoch: str = "epoch-1") -> RoomState:
    return RoomState(config=config(), epoch=epoch)


def command(actor: str, cmd: c.Command, now: float = T0 + 1) -> Step:
    def step(state: RoomState) -> Transition:
        return apply(state, actor, cmd, now)

    return step


async def seat_facilitator(hub: LiveHub) -> None:
    await hub.transact(KEY, command("fac", c.Join("c1", "Fac", "facilitator")), fresh)


async def test_missing_state_is_created_only_when_asked(hub: LiveHub) -> None:
    """Without ``create`` a missing session is not invented; with it, it is."""
    assert await hub.transact(KEY, command("fac", c.Post("hi"))) is None
    assert await hub.live_sessions() == []
    t = await hub.transact(KEY, command("fac", c.Join("c1", "Fac", "facilitator")), fresh)
    assert t is not None
    assert [ev.type for ev in t.events] == ["session_started", "joined"]
    assert await hub.live_sessions() == [KEY]


async def test_events_reach_every_subscriber_in_order(hub: LiveHub) -> None:
    """Each subscriber gets every event, encoded, in seq order."""
    a, b = Recorder(), Recorder()
    await hub.subscribe(KEY, a)
    await hub.subscribe(KEY, b)
    await seat_facilitator(hub)
    for i in range(3):
        await hub.transact(KEY, command("fac", c.Post(f"note {i}")))
    await a.until(5)
    await b.until(5)
    assert a.seqs() == b.seqs() == [1, 2, 3, 4, 5]
    assert [d.frame for d in a.got] == [d.frame for d in b.got]
    assert json.loads(a.got[-1].frame)["text"] == "note 2"


async def test_concurrent_commands_get_consecutive_seqs(hub: LiveHub) -> None:
    """Many commands at once: no seq is skipped or repeated, and delivery order is seq order."""
    watcher = Recorder()
    await hub.subscribe(KEY, watcher)
    await seat_facilitator(hub)
    await asyncio.gather(*(hub.transact(KEY, command("fac", c.Post(f"m{i}"))) for i in range(50)))
    await watcher.until(52)
    assert watcher.seqs() == list(range(1, 53))


async def test_unsubscribed_gets_nothing_more(hub: LiveHub) -> None:
    """After unsubscribing, a subscriber receives no further events."""
    watcher = Recorder()
    await hub.subscribe(KEY, watcher)
    await seat_facilitator(hub)
    await watcher.until(2)
    await hub.unsubscribe(KEY, watcher)
    other = Recorder()
    await hub.subscribe(KEY, other)
    await hub.transact(KEY, command("fac", c.Post("after")))
    await other.until(1)
    assert watcher.seqs() == [1, 2]


async def test_since_returns_exactly_what_was_missed(hub: LiveHub) -> None:
    """The log gives every event after a seq, nothing before, and [] when up to date."""
    await seat_facilitator(hub)
    for i in range(4):
        await hub.transact(KEY, command("fac", c.Post(f"m{i}")))
    missed = await hub.since(KEY, "epoch-1", 3)
    assert missed is not None
    assert [d.seq for d in missed] == [4, 5, 6]
    assert await hub.since(KEY, "epoch-1", 6) == []


async def test_since_refuses_what_it_cannot_prove(make_hub: HubFactory) -> None:
    """Another epoch, a trimmed log, a future seq or an unknown session: None, never partial."""
    hub = await make_hub(log_size=3)
    await seat_facilitator(hub)
    for i in range(5):
        await hub.transact(KEY, command("fac", c.Post(f"m{i}")))
    assert await hub.since(KEY, "another-epoch", 6) is None
    assert await hub.since(KEY, "epoch-1", 2) is None  # seq 3.. trimmed away
    assert await hub.since(KEY, "epoch-1", 99) is None
    assert await hub.since("room_other:1", "epoch-1", 0) is None
    kept = await hub.since(KEY, "epoch-1", 4)
    assert kept is not None
    assert [d.seq for d in kept] == [5, 6, 7]


async def test_replaced_entries_are_rewritten_in_the_log(hub: LiveHub) -> None:
    """A rewritten event (a redaction) replaces its log entry; later readers see the new one."""
    await seat_facilitator(hub)
    await hub.transact(KEY, command("fac", c.Post("to be erased")))

    def redact(state: RoomState) -> Transition:
        state.messages[3] = state.messages[3]._replace(text=None)
        gone = e.MessagePosted(
            seq=3, at=T0 + 1, user_id="fac", name="Fac", text=None, redacted=True
        )
        return Transition(replaced=[gone])

    await hub.transact(KEY, redact)
    log = await hub.since(KEY, "epoch-1", 0)
    assert log is not None
    assert "to be erased" not in "".join(d.frame for d in log)
    assert json.loads(log[2].frame)["redacted"] is True


async def test_an_ended_session_is_forgotten(hub: LiveHub) -> None:
    """Ending drops state and log; the final event is marked so connections can let go,
    and the facilitators' summary (a notice) comes right after it."""
    watcher = Recorder()
    await hub.subscribe(KEY, watcher)
    await seat_facilitator(hub)
    await hub.transact(KEY, command("fac", c.Post("private words")))
    await hub.transact(KEY, command("fac", c.EndSession()))
    await watcher.until(5)
    *events, summary = watcher.got
    assert events[-1].final
    assert not any(d.final for d in events[:-1])
    assert summary.to == frozenset({"fac"})
    assert json.loads(summary.frame)["type"] == "session_summary"
    assert "private words" not in summary.frame
    assert await hub.live_sessions() == []
    assert await hub.since(KEY, "epoch-1", 0) is None
    assert await hub.transact(KEY, command("fac", c.Post("hello?"))) is None


async def test_a_steps_events_are_delivered_before_it_returns(hub: LiveHub) -> None:
    """Events before answers: when ``transact`` returns, this process's subscribers already
    hold the step's events, so a sender's reply can never overtake its own message."""
    watcher = Recorder()
    await hub.subscribe(KEY, watcher)
    await seat_facilitator(hub)
    for i in range(5):
        t = await hub.transact(KEY, command("fac", c.Post(f"m{i}")))
        assert t is not None
        assert watcher.seqs()[-1] == t.events[-1].seq
    assert watcher.seqs() == list(range(1, 8))


async def test_stats_count_events_published_and_frames_delivered(hub: LiveHub) -> None:
    """What /metrics reports: each event once when published, each frame once per
    subscriber it reaches, and the sessions followed here."""
    a, b = Recorder(), Recorder()
    await hub.subscribe(KEY, a)
    await hub.subscribe(KEY, b)
    assert hub.followed == 1
    await seat_facilitator(hub)
    for text in ("one", "two", "three"):
        await hub.transact(KEY, command("fac", c.Post(text)))
    await a.until(5)
    await b.until(5)
    assert hub.stats.published == 5  # session_started, joined, three messages
    assert hub.stats.delivered == 10
    await hub.unsubscribe(KEY, a)
    await hub.unsubscribe(KEY, b)
    assert hub.followed == 0


def with_notices(state: RoomState) -> Transition:
    """A step of three events with notices placed after the first and the last, and one
    placed nowhere (it goes at the end)."""
    t = Transition()
    first = state.seq + 1
    for i in range(3):
        emit(state, t, e.MessagePosted, T0 + 1, user_id="fac", name="Fac", text=f"m{i}")
    t.notices = [
        e.WhisperSent(
            to=("fac",),
            seq=first + 2,
            id="w1",
            user_id="amy",
            name="Amy",
            text="after the last",
            at=T0 + 1,
            by=None,
            by_name=None,
        ),
        e.Removed(
            to=("amy",),
            seq=first,
            message="after the first",
            crisis_resources="",
            crisis_resources_html="",
        ),
        e.ArrivalLeft(to=("fac",), user_id="placed nowhere"),
    ]
    return t


def expected_order(first: int) -> list[tuple[int, str, frozenset[str] | None, bool | None]]:
    return [
        (first, "message", None, None),
        (first, "removed", frozenset({"amy"}), True),
        (first + 1, "message", None, None),
        (first + 2, "message", None, None),
        (first + 2, "whisper", frozenset({"fac"}), None),
        (first + 2, "arrival_left", frozenset({"fac"}), None),
    ]


def shape(got: Sequence[Delivery]) -> list[tuple[int, str, frozenset[str] | None, bool | None]]:
    return [(d.seq, json.loads(d.frame)["type"], d.to, d.gate) for d in got]


async def test_notices_arrive_right_after_the_event_they_follow(hub: LiveHub) -> None:
    """Each notice is delivered in its place — after the event it follows, never before —
    to its recipients only (``to``), with its gate; a notice placed nowhere goes last.
    Notices are never replayed by ``since``."""
    watcher = Recorder()
    await seat_facilitator(hub)
    await hub.subscribe(KEY, watcher)
    t = await hub.transact(KEY, with_notices)
    assert t is not None
    first = t.events[0].seq
    await watcher.until(6)
    assert shape(watcher.got) == expected_order(first)
    replayed = await hub.since(KEY, "epoch-1", first - 1)
    assert replayed is not None
    assert [json.loads(d.frame)["type"] for d in replayed] == ["message"] * 3
