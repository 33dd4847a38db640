"""Ticking by deadline, on every backend: a session is due only when time has something
to do in it, stays due until the ticker's step moves it on, and a step that brings its
moment forward moves it too."""

from __future__ import annotations

from typing import Any

import pytest

from holdspace.core import commands as c
from holdspace.core.room import Transition, apply
from holdspace.core.state import RoomState
from holdspace.live.base import Due, LiveHub, Step
from holdspace.live.redis import RedisHub
from tests.core.helpers import T0
from tests.hub.conftest import HubFactory
from tests.hub.test_hub_contract import KEY, command, fresh

ENDS = T0 + 90 * 60  # the sessions' scheduled end (tests.core.helpers.config)


def tick(now: float) -> Step:
    def step(state: RoomState) -> Transition:
        return apply(state, None, c.Tick(), now)

    return step


async def seat(hub: LiveHub) -> None:
    await hub.transact(KEY, command("fac", c.Join("c1", "Fac", "facilitator"), T0 + 1), fresh)
    await hub.transact(KEY, command("m1", c.Join("c2", "Kim", "member"), T0 + 2))


async def due_at(hub: LiveHub, now: float) -> list[str]:
    due = await hub.due(now)
    assert due is not None, "the only worker ticks"
    return due.sessions


async def test_a_session_is_due_only_when_time_has_something_to_do(hub: LiveHub) -> None:
    """Open, nothing pending but the scheduled end: not due; a one-minute mute makes it
    due at its expiry and not a moment before; it stays due until the ticker's step."""
    await seat(hub)
    assert await hub.due(T0 + 3) == Due([], review=True)  # a new ticker looks at all once
    assert await hub.due(T0 + 3) == Due([], review=False)
    await hub.transact(KEY, command("fac", c.Mute("m1", 1), T0 + 10))
    assert await due_at(hub, T0 + 69.9) == []
    assert await due_at(hub, T0 + 70) == [KEY]
    assert await due_at(hub, T0 + 75) == [KEY]  # not yet ticked: still due
    t = await hub.transact(KEY, tick(T0 + 75), ticking=True)
    assert t is not None
    assert [ev.type for ev in t.events] == ["unmuted"]
    assert await due_at(hub, T0 + 76) == []
    assert await due_at(hub, ENDS - 1) == []
    assert await due_at(hub, ENDS) == [KEY]
    t = await hub.transact(KEY, tick(ENDS), ticking=True)
    assert t is not None
    assert t.ended
    assert await due_at(hub, ENDS + 10**6) == []
    assert await hub.live_sessions() == []


async def test_an_early_entry_costs_one_quiet_tick(hub: LiveHub) -> None:
    """A mute lifted by hand leaves its entry early: the tick then changes nothing and
    moves the entry to the real next moment."""
    await seat(hub)
    await hub.transact(KEY, command("fac", c.Mute("m1", 5), T0 + 10))
    await hub.transact(KEY, command("fac", c.Unmute("m1"), T0 + 20))
    assert await due_at(hub, T0 + 310) == [KEY]
    t = await hub.transact(KEY, tick(T0 + 310), ticking=True)
    assert t is not None
    assert (t.events, t.notices) == ([], [])
    assert await due_at(hub, T0 + 311) == []


async def test_a_session_gone_leaves_the_index(hub: LiveHub) -> None:
    """The ticker's step on a session that no longer exists takes it out of the index."""
    await seat(hub)
    await hub.transact(KEY, command("fac", c.EndSession(), T0 + 30))
    assert await hub.transact(KEY, tick(ENDS), ticking=True) is None
    assert await due_at(hub, ENDS + 1) == []


async def test_only_one_worker_ticks(make_hub: HubFactory) -> None:
    first = await make_hub()
    if not isinstance(first, RedisHub):
        pytest.skip("one process: it always ticks")
    second = await make_hub()
    assert await first.due(T0) is not None
    assert await second.due(T0) is None


async def test_a_worker_that_begins_ticking_looks_at_every_session(make_hub: HubFactory) -> None:
    """When the lease passes to another worker, that worker reviews every live session
    once: the one before it may have died halfway through a tick."""
    first = await make_hub()
    if not isinstance(first, RedisHub):
        pytest.skip("one process: it always ticks")
    second = await make_hub()
    await seat(first)
    assert await first.due(T0 + 3) == Due([], review=True)
    await first._redis.delete(first.keys.ticker)  # as when its lease runs out
    assert await second.due(T0 + 4) == Due([], review=True)
    assert await second.due(T0 + 5) == Due([], review=False)
    assert await second.live_sessions() == [KEY]


async def test_a_step_written_while_the_ticker_sets_the_entry_is_not_lost(
    make_hub: HubFactory,
) -> None:
    """Another worker's step that brings the deadline forward, written between the
    ticker's step and its setting of the entry, would be overwritten: the ticker sees
    the session moved on and makes it due at once, to look again."""
    ticker = await make_hub()
    if not isinstance(ticker, RedisHub):
        pytest.skip("one process: a step and the index move together")
    other = await make_hub()
    await seat(other)
    states = ticker.states
    run = states._run

    async def run_then_other_steps(*args: Any, **kwargs: Any) -> Any:
        result = await run(*args, **kwargs)
        await other.transact(KEY, command("fac", c.Mute("m1", 1), T0 + 100))
        return result

    states._run = run_then_other_steps  # type: ignore[method-assign]
    await ticker.transact(KEY, tick(T0 + 99), ticking=True)
    states._run = run  # type: ignore[method-assign]
    assert await due_at(ticker, T0 + 99) == [KEY]  # looked at again at the next tick
    await ticker.transact(KEY, tick(T0 + 100), ticking=True)
    assert await due_at(ticker, T0 + 159) == []
    assert await due_at(ticker, T0 + 160) == [KEY]  # the mute's expiry, kept
