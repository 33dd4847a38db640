from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from holdspace.clock import ManualClock
from tests.live import Community, LiveServer, LogCapture
from tests.redis_cluster import RedisClusterSetup
from tests.redis_server import RedisServer


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(time.time())


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """Every log record written while the test runs, from any thread, at any level."""
    capture = LogCapture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)


BACKENDS = ["embedded", "redis"]


@pytest.fixture
def server(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock, logs: LogCapture
) -> Iterator[LiveServer]:
    """A real server on the embedded backend — or, where a module parametrizes it with
    ``BACKENDS`` (``indirect=True``), on a real Redis too, in a keyspace of its own.
    ``@pytest.mark.server_settings(name=value, …)`` changes its settings."""
    backend = getattr(request, "param", "embedded")
    marker = request.node.get_closest_marker("server_settings")
    settings: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    overrides: dict[str, Any] = {}
    if backend == "redis":
        redis: RedisServer = request.getfixturevalue("redis_server")
        overrides = {"redis_url": redis.url, "redis_prefix": f"hs:t{secrets.token_hex(4)}:"}
    live = LiveServer(tmp_path / "data", clock, **settings, **overrides)
    live.start()
    assert type(live.services.sessions.hub).__name__ == ("RedisHub" if overrides else "MemoryHub")
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
async def community(server: LiveServer) -> AsyncIterator[Community]:
    world = Community(server)
    try:
        yield world
    finally:
        await world.close()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterSetup]:
    """One real Redis Cluster (three primaries, three replicas) for the whole run."""
    cluster = RedisClusterSetup()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the whole run, on a free loopback port."""
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()
