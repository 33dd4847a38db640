"""The ticker's view of the sessions this worker writes: the set of live sessions
(``Plive``) and the index of when each next needs time to act on it (``Pdue``), kept
up to date in the background.

They are written by a task of their own, so a step's task — which delivering its own
events may cancel (a member's connection told to rejoin) — never carries them
half-done; the step waits for its round (shielded) only so that the index holds it
by the time the step returns. Updates made meanwhile are merged (the earliest
deadline kept) and written together. An entry only ever moves earlier here
(``ZADD LT``); the ticker's own step moves it on (see ``SessionStates.tick``). What a
crash loses, the ticker's review after the worker has gone finds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math

from holdspace.live.base import HubStats
from holdspace.live.redis.keys import Keys
from holdspace.live.redis.scripts import due_ms
from holdspace.redis_connect import REDIS_ERRORS, Client

log = logging.getLogger("holdspace.hub")

RETRY_SECONDS = 1.0


class Listing:
    def __init__(self, client: Client, keys: Keys, stats: HubStats) -> None:
        self._redis = client
        self._keys = keys
        self._stats = stats
        # Session key -> the earliest deadline to index (None: the session has ended).
        self._pending: dict[str, float | None] = {}
        self._new: set[str] = set()  # to add to the set of live sessions
        self._task: asyncio.Task[None] | None = None
        self._round: asyncio.Future[None] | None = None  # done once what is pending is sent

    def begun(self, key: str, deadline: float) -> asyncio.Future[None]:
        """A session this worker wrote first: listed, with its deadline."""
        self._new.add(key)
        return self.sooner(key, deadline)

    def sooner(self, key: str, deadline: float) -> asyncio.Future[None]:
        """A step brought the session's deadline forward to ``deadline``."""
        if not (key in self._pending and self._pending[key] is None):  # (not ended)
            self._pending[key] = min(self._pending.get(key) or math.inf, deadline)
        return self._wake()

    def ended(self, key: str) -> asyncio.Future[None]:
        self._pending[key] = None
        self._new.discard(key)
        return self._wake()

    def _wake(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._task = loop.create_task(self._write())
        if self._round is None:
            self._round = loop.create_future()
        return self._round

    async def _write(self) -> None:
        try:
            while self._pending:
                pending, new, done = self._pending, self._new, self._round
                self._pending, self._new, self._round = {}, set(), None
                try:
                    await self._send(pending, new)
                except REDIS_ERRORS:
                    self._stats.errors += 1
                    log.warning("hub: the ticker's index not written; trying again")
                    for key, at in pending.items():  # what came meanwhile is newer
                        if key not in self._pending:
                            self._pending[key] = at
                        elif at is not None and self._pending[key] is not None:
                            self._pending[key] = min(at, self._pending[key] or math.inf)
                    self._new |= new - {k for k, at in self._pending.items() if at is None}
                    await asyncio.sleep(RETRY_SECONDS)
                finally:
                    if done is not None and not done.done():
                        done.set_result(None)  # (a failed round is tried again unwaited)
        finally:
            self._task = None
            if self._round is not None and not self._round.done():
                self._round.set_result(None)
            self._round = None

    async def _send(self, pending: dict[str, float | None], new: set[str]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, at in pending.items():
                if at is None:
                    pipe.srem(self._keys.live, key)
                    pipe.zrem(self._keys.due, key)
                    continue
                if key in new:
                    pipe.sadd(self._keys.live, key)
                pipe.zadd(self._keys.due, {key: due_ms(at)}, lt=True)
            await pipe.execute()

    async def close(self) -> None:
        """Write what is pending (bounded by the caller), then stop."""
        task = self._task
        if task is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                await asyncio.shield(task)
