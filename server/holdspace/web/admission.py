"""Which WebSocket handshakes may go on: per client address, at most so many sockets
open and so many opened a minute — by the address the app sees, which behind a trusted
proxy is the one it forwarded (uvicorn's proxy-headers middleware puts it in
``scope["client"]``).

Beneath the app, :mod:`holdspace.edge` caps every connection by its peer's address; a
trusted proxy is exempt there, since it carries everyone, so this is where the people
behind it are counted one by one. (With nothing in front, both count the same address
and the lower, TCP-level count includes this one.) The endpoint answers a refusal with
HTTP 429 and ``Retry-After`` before accepting; nothing here touches a socket.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from typing import Final

from starlette.types import Scope

from holdspace.errors import ClientError, Code, Throttled
from holdspace.limits import HandshakeRate, OpenCounts, TrustedProxies
from holdspace.metrics import EdgeStats
from holdspace.settings import Settings

__all__ = ["Admission"]

# Seconds to suggest waiting when an address holds too many sockets: one may close soon.
FULL_RETRY_AFTER: Final = 5


class Admission:
    """Counts WebSocket handshakes per client address; an address in
    ``HOLDSPACE_TRUSTED_PROXIES`` (a proxy that didn't say whom it carries) is never
    counted. Time is monotonic, read from ``now``."""

    def __init__(
        self, settings: Settings, stats: EdgeStats, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._open: OpenCounts[Hashable] = OpenCounts(settings.connections_per_address)
        self._rate = HandshakeRate(settings.handshake_burst, settings.handshakes_per_minute)
        self._trusted = TrustedProxies(settings.trusted_proxies)
        self._stats = stats
        self._now = now

    def admit(self, socket: Hashable, scope: Scope) -> ClientError | None:
        """Count one handshake. ``None``: it may go on — then call :meth:`release` with
        ``socket`` once it has ended, however it ends. Otherwise, the refusal to answer."""
        client = scope.get("client")
        address: str | None = client[0] if client else None
        if address is None or address in self._trusted:
            return None
        wait = self._rate.take(address, self._now())
        if wait > 0:
            self._stats.handshakes_rate_limited += 1
            return Throttled(
                "Too many connections were opened from your network just now. "
                "Please wait a moment and try again.",
                retry_after=max(1, math.ceil(wait)),
            )
        if not self._open.take(socket, address):
            self._stats.connections_refused += 1
            return ClientError(
                "Too many connections are open from your network. Close a tab or two, "
                "or wait a moment, and try again.",
                code=Code.TOO_MANY_CONNECTIONS,
                retry_after=FULL_RETRY_AFTER,
            )
        return None

    def release(self, socket: Hashable) -> None:
        self._open.give_back(socket)
