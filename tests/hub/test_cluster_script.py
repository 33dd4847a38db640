"""Step scripts on a Redis Cluster follow their slot: a call refused with a redirection
(``MOVED`` once the slot has moved, ``ASK`` while its keys are moving) ran nothing,
and is sent where the slot's keys are now — on a real cluster."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import RedisCluster
from redis.crc import key_slot

from holdspace.live.redis.sharded import ClusterScript
from holdspace.redis_connect import connect
from tests.redis_cluster import RedisClusterSetup, command

COUNT = "return redis.call('INCR', KEYS[1])"


@pytest.fixture
async def client(redis_cluster: RedisClusterSetup) -> AsyncIterator[RedisCluster]:
    cluster = connect(redis_cluster.url, decode_responses=True)
    assert isinstance(cluster, RedisCluster)
    await cluster.initialize()
    yield cluster
    await cluster.aclose()


async def test_a_call_follows_its_slot_to_its_new_primary(
    redis_cluster: RedisClusterSetup, client: RedisCluster
) -> None:
    key = f"hs:{{room:{secrets.token_hex(4)}}}:count"
    script = ClusterScript(client, COUNT, timeout=5)
    try:
        assert await script.send([key], []) == 1
        source = await redis_cluster.owner(key)
        target = next(p for p in await redis_cluster.primaries() if p is not source)
        await redis_cluster.migrate_slot(key_slot(key.encode()), source, target)
        # The client still maps the slot to the old primary: MOVED, then sent on.
        assert await script.send([key], []) == 2
        assert await script.send([key], []) == 3
    finally:
        await script.close()


async def test_a_call_for_keys_gone_ahead_is_asked_of_the_importing_node(
    redis_cluster: RedisClusterSetup, client: RedisCluster
) -> None:
    """Mid-migration, a key not on the source any more (here: not yet written) is
    served by the importing node, for one command after ``ASKING``."""
    key = f"hs:{{room:{secrets.token_hex(4)}}}:count"
    slot = key_slot(key.encode())
    source = await redis_cluster.owner(key)
    target = next(p for p in await redis_cluster.primaries() if p is not source)
    script = ClusterScript(client, COUNT, timeout=5)
    try:
        async with redis_cluster.admin(source) as src, redis_cluster.admin(target) as dst:
            source_id = await command(src, "CLUSTER", "MYID")
            target_id = await command(dst, "CLUSTER", "MYID")
            await command(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            await command(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            try:
                assert await script.send([key], []) == 1  # ASK, then run on the target
            finally:
                for owner in (dst, src):  # the migration ends: the target owns the slot
                    await command(owner, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
                for node in await redis_cluster.primaries():
                    if node not in (source, target):
                        async with redis_cluster.admin(node) as other:
                            await command(other, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
            await redis_cluster.settled()
            assert await command(dst, "GET", key) == "1"  # written on the importing node
        assert await script.send([key], []) == 2  # and found there from now on
    finally:
        await script.close()
