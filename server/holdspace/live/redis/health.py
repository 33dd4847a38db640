"""Whether Redis answers at all, checked on a connection of its own.

A Redis that is down refuses connections, and every call fails at once. A Redis
that is frozen (stopped, swapping, a dead link that TCP hasn't noticed) accepts
what is sent and answers nothing: calls simply wait. Nothing else in the hub can
tell that wait from a slow answer, so a ping goes out every half ``stall_seconds``
and Redis counts as stalled when one takes longer than ``stall_seconds``. While it
is, the hub refuses commands at once (``unavailable``) instead of queueing them
behind the freeze, fails the calls already waiting, and members are told.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from redis.asyncio import RedisCluster

from holdspace.redis_connect import UNREACHABLE, Client

log = logging.getLogger("holdspace.hub")


class Health:
    def __init__(
        self, client: Client, *, stall_seconds: float, on_change: Callable[[bool], None]
    ) -> None:
        """``client`` is used for nothing else, so a ping never waits behind other calls;
        its socket and connect timeouts are ``stall_seconds``, and it never retries. On a
        cluster, every primary is pinged (one that stalls holds up its rooms' steps);
        after a failed ping the slot map is read again, to ping a new primary next."""
        self._client = client
        self._reread = False
        self._stall = stall_seconds
        self._on_change = on_change
        self.ok = True
        # The last pings' round trips: their least is the link's own length. (Any one ping
        # may also wait on a busy event loop; the quickest of a few seconds' doesn't.)
        self._recent: deque[float] = deque(maxlen=8)

    async def run(self) -> None:
        while True:
            ok = await self._ping()
            if ok != self.ok:
                self.ok = ok
                if ok:
                    log.info("redis answers again")
                else:
                    log.warning("redis is not answering", extra={"within": self._stall})
                self._on_change(ok)
            # While it is stalled, look more often: members are waiting to hear it is back.
            await asyncio.sleep(self._stall / 2 if ok else self._stall / 8)

    async def _ping(self) -> bool:
        # The client's own socket timeout (``stall_seconds``) ends a ping that waits too
        # long, and drops its connection; this bound is only a backstop.
        loop = asyncio.get_running_loop()
        sent = loop.time()
        try:
            async with asyncio.timeout(self._stall * 2):
                if isinstance(self._client, RedisCluster):
                    if self._reread:
                        await self._client.nodes_manager.initialize()
                        self._reread = False
                    await self._client.ping(target_nodes=RedisCluster.PRIMARIES)
                else:
                    await self._client.ping()
        except UNREACHABLE:
            self._reread = True
            return False
        self._recent.append((loop.time() - sent) * 1000)
        return True

    @property
    def rtt_ms(self) -> float | None:
        """How long a round trip to Redis takes, at least (None before the first ping)."""
        return min(self._recent) if self._recent else None

    async def close(self) -> None:
        await self._client.aclose()
