from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.live import LiveServer


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the HTTP API; tests name the bearer token on each request."""
    async with httpx.AsyncClient(base_url=server.base, timeout=15.0) as client:
        yield client
