"""The garbage collector, paced by the clock instead of by allocation counts.

CPython starts a pass over its youngest objects once allocations, less deallocations,
pass a threshold. Under steady load most allocations are freed again at once, and
what a message leaves behind for a while — its record in the room, its entry in the
resume log, the await its author's socket sits in until they next speak — is offset
by older objects of the same kinds being freed. So the count crawls: at the
threshold of 50,000 a pass fell due only every 10–15 s, and then had about 100,000
young objects to walk, in 40–50 ms during which no room heard anything. On a clock,
a pass walks what half a second left behind: 3–8 ms at 22,000 deliveries a second;
what outlives it is frozen out of sight every minute rather than walked again
(docs/PERFORMANCE.md has the measurements).

Reference counting frees nearly everything; these passes are for reference cycles.
"""

from __future__ import annotations

import asyncio
import gc

YOUNG_SECONDS = 0.5  # between passes over the young generation
MIDDLE_EVERY = 120  # young passes between freezes of what outlived them (a minute)
FULL_EVERY = 60  # freezes between full passes (an hour)
NEVER = 1 << 30  # passes of the younger generation before CPython's own of an older one


def freeze_start_up() -> None:
    """Move everything built at start-up out of the collector's sight, and leave the
    collector's own passes, by allocation count, to the young generation and to bursts
    (thousands joining at once): the :class:`Collector` sees to the older ones."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, NEVER, NEVER)


class Collector:
    """Runs the collector on this event loop's clock.

    - Every ``young_seconds``: a pass over the young generation. Reference cycles
      that die young — nearly all there are — go here, in a few milliseconds.
    - Every ``middle_every`` of those: what has outlived its young pass is frozen
      (``gc.freeze``, which moves it out of the collector's sight without walking
      it) instead of walked by a pass over the middle generation. Such a pass found
      nothing to collect under load, and after a crowd joined it walked every
      object their sockets hold: 108–131 ms for 2,000 members, in which no room
      heard anything.
    - Every ``full_every`` freezes: everything is unfrozen, walked once — cycles
      among long-lived objects are freed here, at the latest — and frozen again.
    """

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
        self._frozen = 0
        self._next: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._next = asyncio.get_running_loop().call_later(self._young_seconds, self._pass)

    def stop(self) -> None:
        if self._next is not None:
            self._next.cancel()
            self._next = None

    def _pass(self) -> None:
        self._young += 1
        if self._young % self._middle_every:
            gc.collect(0)
        else:
            self._frozen += 1
            if self._frozen % self._full_every:
                gc.collect(0)  # the young generation's cycles first: those are never frozen
            else:
                gc.unfreeze()
                gc.collect()
            gc.freeze()
        self.start()
