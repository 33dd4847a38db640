"""Live hubs for the contract suite, one per backend: the same tests run on each."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Protocol

import pytest

from holdspace.live.base import LiveHub
from holdspace.live.memory import MemoryHub
from holdspace.live.redis import HubTuning, RedisHub
from holdspace.protocol import encode_event, encode_notice, encode_service

BACKENDS = ["memory", "redis", "redis-cluster"]


class HubFactory(Protocol):
    async def __call__(self, *, log_size: int = 1000) -> LiveHub: ...


@pytest.fixture(params=BACKENDS)
async def make_hub(request: pytest.FixtureRequest) -> AsyncIterator[HubFactory]:
    hubs: list[LiveHub] = []
    prefix = f"hs:t{secrets.token_hex(4)}:"  # every test its own keyspace on the shared server

    async def make(*, log_size: int = 1000) -> LiveHub:
        hub: LiveHub
        if request.param == "memory":
            hub = MemoryHub(encode_event, encode_notice, log_size=log_size)
        elif request.param in ("redis", "redis-cluster"):
            url = (
                request.getfixturevalue("redis_cluster").url
                if request.param == "redis-cluster"
                else request.getfixturevalue("redis_server").url
            )
            hub = await RedisHub.open(
                url,
                encode_event,
                encode_notice,
                encode_service,
                prefix=prefix,
                tuning=HubTuning(log_size=log_size),
            )
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
