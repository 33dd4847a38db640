"""Time as an injected dependency.

Rate limits, mute expiry, grace periods and session windows all read time from a
:class:`Clock`, so tests move time forward instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC)."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to; safe to advance from another thread."""

    def __init__(self, start: float | datetime | None = None) -> None:
        if start is None:
            start = time.time()
        elif isinstance(start, datetime):
            start = start.timestamp()
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float | datetime) -> None:
        with self._lock:
            self._now = when.timestamp() if isinstance(when, datetime) else float(when)


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def iso(ts: float) -> str:
    """Wire format for instants: ISO 8601 in UTC with millisecond precision."""
    return utc(ts).isoformat(timespec="milliseconds").replace("+00:00", "Z")
