from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster
from tests.redis_cluster import RedisClusterSetup
from tests.redis_server import RedisServer


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server for this test alone (it may be stopped, paused or restarted)."""
    server = RedisServer(appendonly=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    """Two workers on one Redis of the test's own; or, parametrized ``"redis-cluster"``,
    on the run's shared Redis Cluster."""
    redis: RedisServer | RedisClusterSetup
    settings = {}
    if getattr(request, "param", "redis") == "redis-cluster":
        redis = request.getfixturevalue("redis_cluster")
        # The run's cluster is shared: each test's accounts and rooms under a prefix
        # of its own (the ACL's `hs:*` still covers them).
        settings["redis_prefix"] = f"hs:t{secrets.token_hex(4)}:"
    else:
        redis = request.getfixturevalue("own_redis")
    world = Cluster(tmp_path, redis, **settings)  # type: ignore[arg-type]
    try:
        yield await world.start(2)
    finally:
        await world.close()
