"""Several real Holdspace workers sharing one real redis-server, for scale-out tests.

People and rooms are written straight into the Redis store with the server's own
services (no worker needs to be asked), then members connect to whichever worker
a test chooses.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from holdspace.accounts import Accounts
from holdspace.auth.passwords import PasswordService
from holdspace.clock import SystemClock
from holdspace.records import Room, User
from holdspace.rooms import Rooms
from holdspace.settings import Settings
from holdspace.storage.redis import RedisStore
from holdspace_client import Client
from tests.live import PASSWORD, open_now_schedule
from tests.processes import Worker
from tests.redis_server import RedisServer

# Quick to notice trouble, so fault tests finish in seconds.
FAST = {
    "probe_seconds": "0.5",
    "tick_seconds": "0.2",
    "reauth_seconds": "5",
    "log_format": "json",
    "log_level": "INFO",
}


class Cluster:
    def __init__(self, tmp_path: Path, redis: RedisServer, **settings: str) -> None:
        self.tmp_path = tmp_path
        self.redis = redis
        self.settings = {**FAST, "redis_url": redis.url, **settings}
        self.workers: list[Worker] = []
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}
        self.clients: list[Client] = []
        self._store: RedisStore | None = None
        self._passwords = PasswordService("test")

    async def start(self, count: int = 2) -> Cluster:
        prefix = self.settings.get("redis_prefix", "hs:")
        self._store = await RedisStore.open(self.redis.url, prefix=prefix)
        for _ in range(count):
            await self.add_worker()
        return self

    async def add_worker(self, **settings: str) -> Worker:
        """Another worker, with ``settings`` over the cluster's (say, a ``redis_url``
        through a fault proxy)."""
        index = len(self.workers)
        worker = Worker(self.tmp_path / f"worker{index}", {**self.settings, **settings})
        self.workers.append(worker)
        return await worker.ready()

    @property
    def accounts(self) -> Accounts:
        assert self._store is not None
        return Accounts(self._store, self._passwords, SystemClock(), token_ttl_seconds=3600)

    async def person(self, username: str, name: str, role: str = "member") -> User:
        user = await self.accounts.create(username, PASSWORD, name, role)  # type: ignore[arg-type]
        _, token = await self.accounts.login(username, PASSWORD, "127.0.0.1")
        self.users[username], self.tokens[username] = user, token
        return user

    async def room(self, owner: str, members: list[str], **spec: Any) -> Room:
        assert self._store is not None
        rooms = Rooms(self._store, SystemClock(), Settings())
        body: dict[str, Any] = {
            "name": "Thursday evening circle",
            "schedule": open_now_schedule(time.time()),
        }
        body.update(spec)
        room = await rooms.create(self.users[owner], body)
        for member in members:
            await self._store.enrol(room.id, self.users[member].id, time.time())
        return room

    async def client(self, username: str, worker: int, **options: Any) -> Client:
        client = Client(self.workers[worker].ws_url, self.tokens[username], **options)
        await client.connect()
        self.clients.append(client)
        return client

    def logs(self) -> str:
        return "\n".join(w.log() for w in self.workers)

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        for worker in self.workers:
            worker.stop()
        if self._store is not None:
            await self._store.close()
        self._passwords.close()
