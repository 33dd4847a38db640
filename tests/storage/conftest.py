"""The ``store`` fixture: every contract test runs once per backend listed in BACKENDS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from holdspace.storage.base import Store
from holdspace.storage.redis import RedisStore
from holdspace.storage.sqlite import SQLiteStore
from tests.redis_cluster import RedisClusterSetup
from tests.redis_server import RedisServer

# Adding a backend here runs the whole contract suite against it.
BACKENDS = ["sqlite", "redis", "redis-cluster"]


async def _open(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if backend == "sqlite":
        return await SQLiteStore.open(tmp_path / "data" / "holdspace.db")
    if backend == "redis":
        # One server for the run; a prefix of its own keeps each test's keys apart.
        server: RedisServer = request.getfixturevalue("redis_server")
        return await RedisStore.open(server.url, prefix=f"hs:test-{uuid4().hex}:")
    if backend == "redis-cluster":
        cluster: RedisClusterSetup = request.getfixturevalue("redis_cluster")
        return await RedisStore.open(cluster.url, prefix=f"hs:test-{uuid4().hex}:")
    pytest.fail(f"unknown store backend {backend!r}")


async def _forget(store: Store, request: pytest.FixtureRequest) -> None:
    """Delete every key a Redis store's test wrote, so the shared server stays small."""
    if not isinstance(store, RedisStore):
        return
    if request.node.callspec.params["store"] == "redis-cluster":
        cluster: RedisClusterSetup = request.getfixturevalue("redis_cluster")
        admins = [cluster.admin(node) for node in await cluster.primaries()]
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        admins = [Redis.from_url(server.admin_url, decode_responses=True)]
    for client in admins:
        try:
            keys = [key async for key in client.scan_iter(match=f"{store.prefix}*", count=500)]
            for key in keys:  # one at a time: on a cluster, each in its own slot
                await client.delete(key)
        finally:
            await client.aclose()


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await _open(request.param, request, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()
        await _forget(opened, request)
