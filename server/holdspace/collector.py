"""The garbage collector, paced by the clock instead of by allocation counts.

CPython starts a pass over its youngest objects once allocations, less deallocations,
pass a threshold. Under steady load most allocations are freed again at once, and
what a message leaves behind for a while — its record in the room, its entry in the
resume log, the await its author's socket sits in until they next speak — is offset
by older objects of the same kinds being freed. So the count crawls: at the
threshold of 50,000 a pass fell due only every 10–15 s, and then had about 100,000
young objects to walk, in 40–50 ms during which no room heard anything. On a clock,
a pass walks what half a second left behind: 3–8 ms at 22,000 deliveries a second
(docs/PERFORMANCE.md has the measurements).

Reference counting frees nearly everything; these passes are for reference cycles.
"""

from __future__ import annotations

import asyncio
import gc

YOUNG_SECONDS = 0.5  # between passes over the young generation
MIDDLE_EVERY = 120  # young passes per pass over the middle generation (a minute)
FULL_EVERY = 60  # middle passes per full pass (an hour)


def freeze_start_up() -> None:
    """Move everything built at start-up out of the collector's sight for good, and make
    the collector's own passes, by allocation count, rare: a burst (thousands joining
    at once) can still start one, the :class:`Collector` does the rest."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


class Collector:
    """Runs the collector's passes on this event loop: the young generation every
    ``young_seconds``, the middle one every ``middle_every`` of those, and everything
    every ``full_every`` middle passes — the shape of CPython's own thresholds, counted
    in seconds instead of allocations."""

    def __init__(
        self,
        young_seconds: float = YOUNG_SECONDS,
        middle_every: int = MIDDLE_EVERY,
        full_every: int = FULL_EVERY,
    ) -> None:
        self._young_seconds = young_seconds
        self._middle_every = middle_every
        self._full_every = full_every
        self._young = 0
        self._middle = 0
        self._next: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._next = asyncio.get_running_loop().call_later(self._young_seconds, self._pass)

    def stop(self) -> None:
        if self._next is not None:
            self._next.cancel()
            self._next = None

    def _pass(self) -> None:
        self._young += 1
        generation = 0
        if self._young % self._middle_every == 0:
            self._middle += 1
            generation = 2 if self._middle % self._full_every == 0 else 1
        gc.collect(generation)
        self.start()
