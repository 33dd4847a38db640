"""The collector's passes on the event loop's clock."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from holdspace.collector import Collector


class Passes:
    """The generation of every pass the collector starts, and how many objects were
    frozen after it; :meth:`reached` waits for so many passes."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self._wanted = 0
        self._enough: asyncio.Event | None = None

    def record(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.seen.append(info["generation"])
            if self._enough is not None and len(self.seen) >= self._wanted:
                self._enough.set()

    async def reached(self, count: int) -> list[int]:
        self._wanted, self._enough = count, asyncio.Event()
        if len(self.seen) < count:
            await asyncio.wait_for(self._enough.wait(), 10)
        return self.seen[:count]


@pytest.fixture
def passes() -> Iterator[Passes]:
    """With the collector's own passes by allocation count switched off, so that what is
    recorded is the clock's; nothing is left frozen afterwards."""
    recorder = Passes()
    was_enabled = gc.isenabled()
    assert gc.get_freeze_count() == 0
    gc.disable()
    gc.callbacks.append(recorder.record)
    try:
        yield recorder
    finally:
        gc.callbacks.remove(recorder.record)
        gc.unfreeze()
        if was_enabled:
            gc.enable()


async def test_young_passes_then_a_freeze_then_everything(passes: Passes) -> None:
    """Young passes; at every third, the young pass and then what outlived it frozen; at
    every second freeze, a full pass over everything, unfrozen first."""
    collector = Collector(young_seconds=0.001, middle_every=3, full_every=2)
    collector.start()
    try:
        assert await passes.reached(12) == [0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 2]
    finally:
        collector.stop()


class Node:
    """One end of a reference cycle."""

    other: Any = None


async def test_a_cycle_frozen_while_alive_is_freed_by_the_next_full_pass(
    passes: Passes,
) -> None:
    """What outlives a young pass is frozen, not walked; a cycle among such objects that
    dies later is freed at the next full pass — and not before it."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    collector = Collector(young_seconds=0.001, middle_every=2, full_every=3)
    collector.start()
    try:
        await passes.reached(2)  # a young pass, then a freeze
        assert gc.get_freeze_count() > 0
        del a, b  # dead now, but only a pass over everything can tell
        await passes.reached(4)  # two young passes and a freeze since
        assert gone() is not None
        await passes.reached(6)  # ... and the full pass
        assert gone() is None
    finally:
        collector.stop()


async def test_stopped_it_makes_no_more_passes(passes: Passes) -> None:
    collector = Collector(young_seconds=0.001)
    collector.start()
    collector.stop()
    later = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(0.05, later.set_result, None)
    await later  # well past when its first pass would have been
    assert passes.seen == []
