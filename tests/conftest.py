from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from holdspace.clock import ManualClock
from tests.live import Community, LiveServer, LogCapture
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


@pytest.fixture
def server(tmp_path: Path, clock: ManualClock, logs: LogCapture) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data", clock)
    live.start()
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
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the whole run, on a free loopback port."""
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()
