"""A Redis Cluster for the tests: three primaries and three replicas, each a real
``redis-server`` on free loopback ports, joined by ``redis-cli --cluster create`` and
stopped here.

Every node is a :class:`RedisServer` (the deployment's ACL; the replicas sync with
the admin user). A node is judged failed after a second, so a replica takes over
within a few.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from typing import Any

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.crc import key_slot

from tests.processes import eventually
from tests.redis_server import (
    ADMIN_PASSWORD,
    APP_PASSWORD,
    RedisServer,
    free_port,
    has_up_to,
    written,
)

NODE_TIMEOUT_MS = 1000


def _node() -> RedisServer:
    return RedisServer(
        "--cluster-enabled", "yes",
        "--cluster-config-file", "nodes.conf",
        "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
        "--cluster-port", str(free_port()),
        # A replica takes over however long it was cut off from its primary.
        "--cluster-replica-validity-factor", "0",
        "--masteruser", "admin", "--masterauth", ADMIN_PASSWORD,
        "--repl-diskless-sync-delay", "0",
        appendonly=True,
    )  # fmt: skip


class RedisClusterSetup:
    def __init__(self, primaries: int = 3, replicas: int = 1) -> None:
        self.nodes: list[RedisServer] = []
        try:
            for _ in range(primaries * (1 + replicas)):
                self.nodes.append(_node())
            created = subprocess.run(
                ["redis-cli", "--user", "admin", "--pass", ADMIN_PASSWORD, "--no-auth-warning",
                 "--cluster", "create",
                 *(f"127.0.0.1:{n.port}" for n in self.nodes),
                 "--cluster-replicas", str(replicas), "--cluster-yes"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            if created.returncode != 0:
                raise RuntimeError("redis-cli --cluster create failed:\n" + created.stdout)
            self._wait_consistent(30)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        """As the app: the deployment's ``holdspace`` user, every primary a seed."""
        seeds = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)
        return f"redis+cluster://holdspace:{APP_PASSWORD}@{seeds}"

    def admin(self, node: RedisServer) -> Redis:
        return Redis.from_url(node.admin_url, decode_responses=True)

    async def _consistent(self) -> bool:
        """Every live node sees the cluster ``ok``, every slot served, one config."""
        infos = []
        for node in self.live_nodes:
            async with self.admin(node) as client:
                try:
                    infos.append(await command(client, "CLUSTER", "INFO"))
                except Exception:
                    return False
        return _agreed(infos)

    def _wait_consistent(self, timeout: float) -> None:
        """:meth:`_consistent`, for the constructor (no event loop is needed there)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            infos = []
            for node in self.live_nodes:
                with SyncRedis.from_url(node.admin_url, decode_responses=True) as client:
                    infos.append(client.execute_command("CLUSTER", "INFO"))
            if _agreed(infos):
                return
            time.sleep(0.05)  # another process's state: nothing here can signal it
        raise RuntimeError("the cluster did not settle")

    @property
    def live_nodes(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.process.poll() is None]

    async def owner(self, key: str) -> RedisServer:
        """The primary serving ``key``'s slot now, as the live nodes see it."""
        slot = key_slot(key.encode())
        by_port = {n.port: n for n in self.nodes}
        for node in self.live_nodes:
            async with self.admin(node) as client:
                with_slot = await command(client, "CLUSTER", "SHARDS")
            for raw in with_slot:
                shard = _as_dict(raw)
                ranges: Any = shard["slots"]
                if any(int(ranges[i]) <= slot <= int(ranges[i + 1])
                       for i in range(0, len(ranges), 2)):  # fmt: skip
                    nodes: Any = shard["nodes"]
                    for each in nodes:
                        n = _as_dict(each)
                        if n["role"] == "master" and n["health"] == "online":
                            return by_port[int(str(n["port"]))]
        raise AssertionError(f"no primary serves slot {slot}")

    async def replicas_of(self, primary: RedisServer) -> list[RedisServer]:
        async with self.admin(primary) as client:
            myid = await command(client, "CLUSTER", "MYID")
        found = []
        for node in self.live_nodes:
            async with self.admin(node) as client:
                info = await client.info("replication")
            if info.get("role") == "slave" and int(info.get("master_port", 0)) == primary.port:
                found.append(node)
        assert myid
        return found

    async def migrate_slot(self, slot: int, source: RedisServer, target: RedisServer) -> int:
        """Move one slot and its keys from ``source`` to ``target`` as ``redis-cli
        --cluster reshard`` does (IMPORTING, MIGRATING, MIGRATE in batches, then the new
        owner everywhere); returns how many keys moved."""
        async with self.admin(source) as src, self.admin(target) as dst:
            source_id = await command(src, "CLUSTER", "MYID")
            target_id = await command(dst, "CLUSTER", "MYID")
            await command(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            await command(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            moved = 0
            while keys := await command(src, "CLUSTER", "GETKEYSINSLOT", slot, 10):
                await command(
                    src, "MIGRATE", "127.0.0.1", target.port, "", 0, 5000,
                    "AUTH2", "admin", ADMIN_PASSWORD, "KEYS", *keys,
                )  # fmt: skip
                moved += len(keys)
            for node in (target, source):
                async with self.admin(node) as client:
                    await command(client, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
            for node in await self.primaries():  # replicas learn it from them
                if node not in (source, target):
                    async with self.admin(node) as client:
                        await command(client, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
        await eventually(self._consistent, 30)
        return moved

    async def primaries(self) -> list[RedisServer]:
        found = []
        for node in self.live_nodes:
            async with self.admin(node) as client:
                if (await client.info("replication")).get("role") == "master":
                    found.append(node)
        return found

    async def in_step(self, primary: RedisServer, replica: RedisServer) -> None:
        """Until ``replica`` has every write ``primary`` has made so far."""
        offset = await written(primary)
        await eventually(lambda: has_up_to(replica, offset), 30)

    async def promoted(self, replica: RedisServer) -> None:
        """Until ``replica`` has taken over as a primary and the cluster agrees."""

        async def took_over() -> bool:
            async with self.admin(replica) as client:
                role = (await client.info("replication")).get("role")
            return role == "master" and await self._consistent()

        await eventually(took_over, 30)

    async def settled(self) -> None:
        await eventually(self._consistent, 30)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


async def command(client: Redis, *args: Any) -> Any:
    """A command redis-py has no typed method for (``CLUSTER …``, ``MIGRATE``)."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


def _agreed(infos: list[Any]) -> bool:
    seen = [_info(i) for i in infos]
    return (
        all(i.get("cluster_state") == "ok" and i.get("cluster_slots_ok") == "16384" for i in seen)
        and len({i.get("cluster_current_epoch") for i in seen}) == 1
    )


def _info(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {k: v.strip() for k, v in pairs}


def _as_dict(value: object) -> dict[str, object]:
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    assert isinstance(value, Sequence)
    return {str(value[i]): value[i + 1] for i in range(0, len(value), 2)}
