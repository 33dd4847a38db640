"""The bookkeeping behind the worker's own edge: which addresses are proxies, how many
connections each address holds open, how fast each opens WebSockets, and which of an
account's sockets is its oldest.

Nothing here touches a socket or reads a clock (time is passed in), so the guards that
use it — :mod:`holdspace.edge` below the app, :mod:`holdspace.web.admission` in it —
stay thin, and the counting is tested on its own. Not thread-safe: use from the loop.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Final, Generic, TypeVar

from holdspace.auth.throttle import TokenBucket

__all__ = ["AccountSockets", "HandshakeRate", "OpenCounts", "TrustedProxies"]

H = TypeVar("H", bound=Hashable)

# Addresses a rate remembers at most; past it, the stalest are forgotten (a flood of
# new addresses costs bounded memory, and a forgotten address only starts afresh).
MAX_ADDRESSES: Final = 100_000

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The proxies named in ``HOLDSPACE_TRUSTED_PROXIES``, matched as uvicorn matches them
    when it believes ``X-Forwarded-For``: an address, a network (``10.0.0.0/8``), or ``*``
    for any. A proxy carries many people, so no per-address limit applies to it."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: list[_Network] = []
        self.any = False
        for entry in entries:
            if entry == "*":
                self.any = True
            else:
                self.networks.append(ipaddress.ip_network(entry, strict=False))

    def __contains__(self, address: str | None) -> bool:
        if self.any:
            return True
        if not address or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        # A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        return any(ip in network or (mapped or ip) in network for network in self.networks)


class OpenCounts(Generic[H]):
    """What each address holds open, at most ``limit`` (0: no limit).

    Each thing held (a transport, a socket) is recorded with its address, so giving it
    back needs no address and giving it back twice is harmless — whichever of several
    callbacks learns first that a connection ended can say so."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError("limit must be 0 (no limit) or more")
        self.limit = limit
        self._held: dict[H, str] = {}
        self._counts: dict[str, int] = {}

    def take(self, holder: H, address: str) -> bool:
        """Record ``holder`` as open from ``address``; False (nothing recorded) if the
        address already holds ``limit``."""
        count = self._counts.get(address, 0)
        if self.limit and count >= self.limit:
            return False
        self._held[holder] = address
        self._counts[address] = count + 1
        return True

    def give_back(self, holder: H) -> None:
        address = self._held.pop(holder, None)
        if address is None:
            return
        left = self._counts[address] - 1
        if left:
            self._counts[address] = left
        else:
            del self._counts[address]

    def open(self, address: str) -> int:
        return self._counts.get(address, 0)

    @property
    def addresses(self) -> int:
        return len(self._counts)


class HandshakeRate:
    """How fast each address may open WebSockets: ``burst`` at once, refilling at
    ``per_minute`` (a token bucket per address). ``burst`` 0: no limit."""

    def __init__(self, burst: int, per_minute: float, *, max_addresses: int = MAX_ADDRESSES):
        if burst < 0 or per_minute <= 0 or max_addresses < 1:
            raise ValueError("a rate needs burst >= 0, per_minute > 0 and max_addresses >= 1")
        self.burst = burst
        self.per_minute = per_minute
        self.max_addresses = max_addresses
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, address: str, now: float) -> float:
        """Count one handshake from ``address``: 0 if it may go on, else the seconds until
        it could (nothing counted)."""
        if not self.burst:
            return 0.0
        bucket = self._buckets.get(address)
        if bucket is None:
            window = self.burst * 60.0 / self.per_minute  # an empty bucket's time to refill
            bucket = TokenBucket.full(self.burst, window, now)
            self._buckets[address] = bucket
        else:
            self._buckets.move_to_end(address)
        wait = 0.0 if bucket.take(now) else bucket.wait_time(now)
        self._forget(now)
        return wait

    def _forget(self, now: float) -> None:
        # The least recently used buckets are the likeliest to have refilled, and a full
        # one remembers nothing: drop those from the front; stop at the first that still
        # counts something (amortised O(1)). Past the cap, drop the stalest regardless.
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            if not oldest.is_full(now):
                break
            self._buckets.popitem(last=False)
        while len(self._buckets) > self.max_addresses:
            self._buckets.popitem(last=False)

    @property
    def addresses(self) -> int:
        return len(self._buckets)


class AccountSockets(Generic[H]):
    """Each account's open sockets, oldest first, at most ``limit`` (0: no limit).

    One more than the limit does not refuse the newest: it hands back the oldest to be
    closed. A member who opens a new tab or picks up their phone expects that one to
    work; the socket they left behind is the one they are least likely to be looking at."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError("limit must be 0 (no limit) or more")
        self.limit = limit
        self._open: dict[str, dict[H, None]] = {}  # insertion-ordered: oldest first

    def add(self, account: str, socket: H) -> H | None:
        """Record ``socket`` as open for ``account``; returns the socket to close to stay
        within the limit (no longer recorded), if any."""
        sockets = self._open.setdefault(account, {})
        sockets[socket] = None
        if self.limit and len(sockets) > self.limit:
            oldest = next(iter(sockets))
            del sockets[oldest]
            return oldest
        return None

    def discard(self, account: str, socket: H) -> None:
        sockets = self._open.get(account)
        if sockets is None:
            return
        sockets.pop(socket, None)
        if not sockets:
            del self._open[account]

    def open(self, account: str) -> int:
        return len(self._open.get(account, ()))
