"""Redis behind Sentinel for the tests: a primary, replicas and three sentinels, each a
real ``redis-server`` on a free loopback port, started and stopped here.

The primary and the replicas are :class:`RedisServer` s (the deployment's ACL, an AOF
fsynced on every write); the replicas and the sentinels use the admin user. Sentinels
notice a primary gone after a second and fail over within a few.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from tests.processes import eventually
from tests.redis_server import (
    ADMIN_PASSWORD,
    APP_PASSWORD,
    RedisServer,
    end,
    free_port,
    has_up_to,
    read_until,
    written,
)

SERVICE = "holdspace"


class Sentinel:
    """One ``redis-server --sentinel`` watching the service."""

    def __init__(self, primary_port: int, directory: Path, base: str = "") -> None:
        """``base``: a configuration to start from (the shipped one, say); this
        machine's port, address, directory, primary and admin user are put over it,
        and a failover is quick."""
        self.port = free_port()
        self.dir = directory
        config = directory / f"sentinel-{self.port}.conf"
        mine = ("port ", "bind ", "dir ", "sentinel monitor ", "sentinel auth-", "sentinel down-")
        kept = [ln for ln in base.splitlines() if not ln.startswith(mine)]
        config.write_text(
            "\n".join(kept) + f"\nport {self.port}\nbind 127.0.0.1\ndir {directory}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2\n"
            f"sentinel auth-user {SERVICE} admin\n"
            f"sentinel auth-pass {SERVICE} {ADMIN_PASSWORD}\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
        )
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [binary, str(config), "--sentinel"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._drainer: threading.Thread | None = None
        self._wait_ready()

    def _wait_ready(self) -> None:
        try:
            self._drainer = read_until(self.process, "+monitor master")
        except RuntimeError:
            self.stop()
            raise

    def client(self) -> Redis:
        return Redis(host="127.0.0.1", port=self.port, decode_responses=True)

    def stop(self) -> None:
        end(self.process, self._drainer)
        self._drainer = None


class SentinelSetup:
    def __init__(self, replicas: int = 1) -> None:
        self.primary = RedisServer("--repl-diskless-sync-delay", "0", appendonly=True)
        self.replicas = [self._replica() for _ in range(replicas)]
        self._dir = Path(tempfile.mkdtemp(prefix="holdspace-sentinel-"))
        self.sentinels: list[Sentinel] = []
        try:
            for _ in range(3):
                self.sentinels.append(Sentinel(self.primary.port, self._dir))
        except BaseException:
            self.stop()
            raise

    def _replica(self) -> RedisServer:
        return RedisServer(
            "--replicaof", "127.0.0.1", str(self.primary.port),
            "--masteruser", "admin", "--masterauth", ADMIN_PASSWORD,
            "--repl-diskless-sync-delay", "0",  # once promoted, its replicas sync at once
            appendonly=True,
        )  # fmt: skip

    @property
    def url(self) -> str:
        """As the app: the deployment's ``holdspace`` user, through the sentinels."""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://holdspace:{APP_PASSWORD}@{hosts}/{SERVICE}/0"

    async def primary_port(self) -> int:
        """Where the sentinels say the primary is now."""
        sentinel = self.sentinels[0].client()
        try:
            address: Any = await sentinel.sentinel_get_master_addr_by_name(SERVICE)
            return int(address[1])
        finally:
            await sentinel.aclose()

    async def settled(self, timeout: float = 30.0) -> None:
        """Until every sentinel knows the replicas and the other two (a failover needs a
        quorum that knows where to go), and the replicas are in step with the primary."""

        async def knows_everyone(sentinel: Sentinel) -> bool:
            client = sentinel.client()
            try:
                replicas: Any = await client.sentinel_slaves(SERVICE)
                others: Any = await client.sentinel_sentinels(SERVICE)
                return len(replicas) == len(self.replicas) and len(others) == 2
            finally:
                await client.aclose()

        for sentinel in self.sentinels:
            await eventually(functools.partial(knows_everyone, sentinel), timeout)
        await self.in_step()

    async def in_step(self) -> None:
        """Until the replicas have every write the primary has made so far (their
        replication offsets reach its own: a ``WAIT`` would cover only its own
        connection's writes, and a new connection has none)."""
        offset = await written(self.primary)

        async def caught_up() -> bool:
            return all([await has_up_to(replica, offset) for replica in self.replicas])

        await eventually(caught_up, 30)

    async def promoted(self, timeout: float = 30.0) -> RedisServer:
        """Until the sentinels name one of the replicas as the primary; returns it."""
        ports = {r.port: r for r in self.replicas}

        async def replica_leads() -> bool:
            return await self.primary_port() in ports

        await eventually(replica_leads, timeout)
        return ports[await self.primary_port()]

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for replica in self.replicas:
            replica.stop()
        self.primary.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
