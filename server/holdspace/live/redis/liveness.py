"""This worker's liveness, and the others': heartbeats, the end-to-end probe through
pub/sub, and the lease that makes one worker tick every session."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from redis.commands.core import AsyncScript

from holdspace.clock import Clock
from holdspace.errors import Unavailable
from holdspace.live.base import Due, HubStats
from holdspace.live.redis.keys import Keys
from holdspace.live.redis.scripts import DUE, LEASE, due_args, lease_args
from holdspace.redis_connect import REDIS_ERRORS, UNREACHABLE, Client

log = logging.getLogger("holdspace.hub")

DAY_MS = 86_400_000  # heartbeats of workers gone longer than this are forgotten
DUE_BATCH = 500  # sessions claimed at most per tick (more wait for the next)


class Liveness:
    def __init__(
        self,
        client: Client,
        keys: Keys,
        worker_id: str,
        clock: Clock,
        stats: HubStats,
        *,
        worker_ttl_seconds: float,
        lease_seconds: float,
        probe_timeout_seconds: float,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._worker_id = worker_id
        self._clock = clock
        self._stats = stats
        self._worker_ttl_ms = int(worker_ttl_seconds * 1000)
        self._lease_ms = int(lease_seconds * 1000)
        self._probe_timeout = probe_timeout_seconds
        self._lease: AsyncScript = client.register_script(LEASE)
        self._due: AsyncScript = client.register_script(DUE)
        self._ticking = False  # held the lease at the last tick
        self._index_run: str | None = None  # the run id of the Redis holding the index
        self._probe: tuple[str, asyncio.Future[None]] | None = None
        self.probe_ok = True

    async def beat(self) -> None:
        """Say this worker is alive (now, by the injected clock)."""
        now_ms = int(self._clock.now() * 1000)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._keys.workers, {self._worker_id: now_ms})
            pipe.zremrangebyscore(self._keys.workers, 0, now_ms - DAY_MS)
            await pipe.execute()

    async def probe(self, send: Callable[[str], Awaitable[None]]) -> bool:
        """Beat, and send a probe through pub/sub to ourselves (``send`` sends it: see
        :meth:`.Following.send_probe`); False when it doesn't come back in time (the
        subscriber is deaf) or Redis is out of reach."""
        nonce = secrets.token_hex(8)
        arrived = asyncio.get_running_loop().create_future()
        self._probe = (nonce, arrived)
        try:
            async with asyncio.timeout(self._probe_timeout):
                await self.beat()
                await send(nonce)
                await arrived
            self.probe_ok = True
        except UNREACHABLE:
            log.warning("hub probe failed")
            self.probe_ok = False
        finally:
            self._probe = None
        return self.probe_ok

    def arrived(self, nonce: str) -> None:
        """A probe came back through the listener."""
        if self._probe is not None and self._probe[0] == nonce and not self._probe[1].done():
            self._probe[1].set_result(None)

    async def due(self, now: float) -> Due | None:
        """The sessions whose deadline has come, if this worker holds the tick lease (see
        :meth:`holdspace.live.base.LiveHub.due`); None otherwise."""
        try:
            held = await self._lease(
                keys=[self._keys.ticker], args=lease_args(self._worker_id, self._lease_ms)
            )
            if held != 1:
                self._ticking = False
                return None
            run, *found = await self._due(keys=[self._keys.due], args=due_args(now, DUE_BATCH))
        except REDIS_ERRORS as error:
            self._stats.errors += 1
            raise Unavailable("the live hub is out of reach") from error
        review = not self._ticking or run != self._index_run
        self._ticking, self._index_run = True, str(run)
        return Due(sorted(str(k) for k in found), review)

    async def live_sessions(self) -> list[str]:
        """Every live session."""
        try:
            return sorted(str(k) for k in await self._redis.smembers(self._keys.live))
        except REDIS_ERRORS as error:
            self._stats.errors += 1
            raise Unavailable("the live hub is out of reach") from error

    async def live_workers(self) -> frozenset[str]:
        try:
            since = int(self._clock.now() * 1000) - self._worker_ttl_ms
            alive = await self._redis.zrangebyscore(self._keys.workers, since, "+inf")
        except REDIS_ERRORS as error:
            self._stats.errors += 1
            raise Unavailable("the live hub is out of reach") from error
        return frozenset(str(w) for w in alive) | {self._worker_id}

    async def leave(self) -> None:
        await self._redis.zrem(self._keys.workers, self._worker_id)
