"""Live hubs for the contract suite, one per backend. A Redis hub joins by adding a param."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import pytest

from holdspace.live.base import LiveHub
from holdspace.live.memory import MemoryHub
from holdspace.protocol import encode_event, encode_notice

BACKENDS = ["memory"]


class HubFactory(Protocol):
    async def __call__(self, *, log_size: int = 1000) -> LiveHub: ...


@pytest.fixture(params=BACKENDS)
async def make_hub(request: pytest.FixtureRequest) -> AsyncIterator[HubFactory]:
    hubs: list[LiveHub] = []

    async def make(*, log_size: int = 1000) -> LiveHub:
        if request.param == "memory":
            hub: LiveHub = MemoryHub(encode_event, encode_notice, log_size=log_size)
        else:  # pragma: no cover - a backend listed without a factory
            raise AssertionError(request.param)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.close()


@pytest.fixture
async def hub(make_hub: HubFactory) -> LiveHub:
    return await make_hub()
