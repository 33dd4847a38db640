"""When each live session next needs time to act on it, earliest first: the embedded
hub's index of deadlines.

Its rules are the Redis hub's (``redis/lua/due.lua``), kept the same so that both
hubs pass one contract: a step only ever brings a session's entry forward, so the
entry is never later than the session's real deadline (an early one costs a tick
that changes nothing); the ticker's own step sets it to the deadline it leaves; a
session stays due until then.
"""

from __future__ import annotations

import heapq
import math


class DueIndex:
    def __init__(self) -> None:
        self._at: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []  # may hold stale entries: _at decides

    def sooner(self, key: str, deadline: float) -> None:
        """A step set ``deadline``: the entry moves if it comes earlier (or is new)."""
        if deadline < self._at.get(key, math.inf):
            self._set(key, deadline)

    def ticked(self, key: str, deadline: float | None) -> None:
        """The ticker's step left ``deadline`` (None: the session has ended)."""
        if deadline is None:
            self._at.pop(key, None)
        else:
            self._set(key, deadline)

    def due(self, now: float) -> list[str]:
        """Sessions whose deadline is at or before ``now``."""
        out: dict[str, float] = {}
        while self._heap and self._heap[0][0] <= now:
            at, key = heapq.heappop(self._heap)
            if self._at.get(key) == at:  # else moved since (or a copy of one just taken)
                out[key] = at
        for key, at in out.items():  # due until ticked
            heapq.heappush(self._heap, (at, key))
        return sorted(out)

    def _set(self, key: str, at: float) -> None:
        self._at[key] = at
        heapq.heappush(self._heap, (at, key))
