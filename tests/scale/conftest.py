from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster
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
async def cluster(tmp_path: Path, own_redis: RedisServer) -> AsyncIterator[Cluster]:
    """Two workers on one Redis."""
    world = Cluster(tmp_path, own_redis)
    try:
        yield await world.start(2)
    finally:
        await world.close()
