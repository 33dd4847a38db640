"""The collector's passes on the event loop's clock."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from holdspace.collector import Collector


class Passes:
    """The generation of every pass the collector starts; :meth:`reached` waits for so many."""

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
    recorded is the clock's."""
    recorder = Passes()
    was_enabled = gc.isenabled()
    gc.disable()
    gc.callbacks.append(recorder.record)
    try:
        yield recorder
    finally:
        gc.callbacks.remove(recorder.record)
        if was_enabled:
            gc.enable()


async def test_each_older_generation_every_so_many_passes_of_the_younger(
    passes: Passes,
) -> None:
    collector = Collector(young_seconds=0.001, middle_every=3, full_every=2)
    collector.start()
    try:
        assert await passes.reached(12) == [0, 0, 1, 0, 0, 2, 0, 0, 1, 0, 0, 2]
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
