"""Signed out means out, across workers and through a partition: a device signed out on
one worker hears nothing said after it on another, even one cut off from Redis when it
happened; and a socket whose sign-in can't be checked is closed, fail-safe, with a code
that lets a device still signed in come straight back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from holdspace_client import Client
from tests.cluster import Cluster
from tests.fault_proxy import FaultProxy
from tests.live import bearer
from tests.redis_server import RedisServer
from tests.scale.test_workers import is_, seated

pytestmark = pytest.mark.integration


@pytest.fixture
async def proxy(own_redis: RedisServer) -> AsyncIterator[FaultProxy]:
    proxy = await FaultProxy(own_redis.url).start()
    yield proxy
    await proxy.close()


async def partitioned(
    tmp_path: Path, redis: RedisServer, proxy: FaultProxy, **settings: str
) -> Cluster:
    """Worker 0 reaches Redis directly; worker 1 only through the proxy."""
    cluster = Cluster(tmp_path, redis, **settings)
    await cluster.start(1)
    await cluster.add_worker(redis_url=proxy.url)
    return cluster


async def robin_and_kims_phone(cluster: Cluster) -> tuple[Client, Client]:
    """Robin in the room through worker 0; Kim's phone through worker 1 (the proxied one)."""
    room, _ = await seated(cluster)
    robin = await cluster.client("robin", 0)
    await robin.join(room)
    phone = await cluster.client("kim", 1)
    await phone.join(room)
    return robin, phone


async def test_a_device_signed_out_while_its_worker_was_cut_off_hears_nothing_after(
    tmp_path: Path, own_redis: RedisServer, proxy: FaultProxy
) -> None:
    # Sign-in checks far apart: only the sign-out's place in the room's order can act.
    cluster = await partitioned(tmp_path, own_redis, proxy, reauth_seconds="3600")
    try:
        robin, phone = await robin_and_kims_phone(cluster)
        before = await robin.post("before")
        await phone.wait_for(is_("message", seq=before), timeout=10)

        proxy.blackhole()  # worker 1 hears nothing from Redis, and Redis nothing from it
        async with httpx.AsyncClient() as http:
            out = await http.post(
                f"{cluster.workers[0].url}/api/auth/logout", headers=bearer(cluster.tokens["kim"])
            )
        assert out.status_code == 200
        after = [await robin.post(f"after {i}") for i in range(3)]
        proxy.heal()  # worker 1 catches up from the log: the sign-out comes first

        await phone.wait_disconnected(timeout=20)
        assert phone.close_code == 4001
        assert phone.close_reason == "signed out"
        seen = {e["seq"] for e in phone.history}
        assert before in seen
        assert not seen & set(after)
    finally:
        await cluster.close()


async def test_a_socket_whose_sign_in_cant_be_checked_is_closed_and_comes_back(
    tmp_path: Path, own_redis: RedisServer, proxy: FaultProxy
) -> None:
    """Worker 1 is cut off from Redis for longer than HOLDSPACE_REAUTH_SECONDS: nothing
    can tell it whether its sockets' sign-ins still hold, so it closes them with 4012
    within that bound; once Redis is in reach again the device, still signed in,
    reconnects and resumes."""
    cluster = await partitioned(tmp_path, own_redis, proxy, reauth_seconds="4")
    try:
        robin, phone = await robin_and_kims_phone(cluster)
        proxy.blackhole()
        cut = time.monotonic()
        await phone.wait_disconnected(timeout=20)
        closed_after = time.monotonic() - cut
        assert phone.close_code == 4012
        assert closed_after < 4 + 2  # the bound, and a little for two busy processes
        proxy.heal()
        resumed = await phone.wait_for("_resumed", timeout=30)
        assert resumed["via"] in ("reply", "resync")
        posted = await robin.post("welcome back")
        await phone.wait_for(is_("message", seq=posted), timeout=10)
    finally:
        await cluster.close()
