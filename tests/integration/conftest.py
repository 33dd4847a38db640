from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.live import LiveServer
from tests.processes import Worker


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the HTTP API; tests name the bearer token on each request."""
    async with httpx.AsyncClient(base_url=server.base, timeout=15.0) as client:
        yield client


@pytest.fixture
async def worker(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Worker]:
    """``holdspace serve`` with nothing in front, with the settings the test names
    (``indirect`` parametrization)."""
    settings: dict[str, str] = getattr(request, "param", {})
    worker = await Worker(tmp_path / "data", settings).ready()
    try:
        yield worker
    finally:
        worker.stop()
