"""Redis behind Sentinel for the tests: a primary, a replica and three sentinels, each a
real ``redis-server`` on a free loopback port, started and stopped here.

The primary and the replica are :class:`RedisServer` s (the deployment's ACL, an AOF
fsynced on every write); the replica and the sentinels use the admin user. Sentinels
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
from tests.redis_server import ADMIN_PASSWORD, APP_PASSWORD, RedisServer, end, free_port, read_until

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
    def __init__(self) -> None:
        self.primary = RedisServer(appendonly=True)
        self.replica = RedisServer(
            "--replicaof", "127.0.0.1", str(self.primary.port),
            "--masteruser", "admin", "--masterauth", ADMIN_PASSWORD,
            appendonly=True,
        )  # fmt: skip
        self._dir = Path(tempfile.mkdtemp(prefix="holdspace-sentinel-"))
        self.sentinels: list[Sentinel] = []
        try:
            for _ in range(3):
                self.sentinels.append(Sentinel(self.primary.port, self._dir))
        except BaseException:
            self.stop()
            raise

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
        """Until every sentinel knows the replica and the other two (a failover needs a
        quorum that knows where to go), and the replica is in step with the primary."""

        async def knows_everyone(sentinel: Sentinel) -> bool:
            client = sentinel.client()
            try:
                replicas: Any = await client.sentinel_slaves(SERVICE)
                others: Any = await client.sentinel_sentinels(SERVICE)
                return bool(replicas) and len(others) == 2
            finally:
                await client.aclose()

        for sentinel in self.sentinels:
            await eventually(functools.partial(knows_everyone, sentinel), timeout)
        await self.in_step()

    async def in_step(self) -> None:
        """Until the replica has every write the primary has acknowledged (``WAIT``)."""
        admin = Redis.from_url(self.primary.admin_url)
        try:
            while await admin.wait(1, 1000) < 1:
                pass
        finally:
            await admin.aclose()

    async def promoted(self, timeout: float = 30.0) -> None:
        """Until the sentinels name the replica as the primary."""

        async def replica_leads() -> bool:
            return await self.primary_port() == self.replica.port

        await eventually(replica_leads, timeout)

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        self.replica.stop()
        self.primary.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
