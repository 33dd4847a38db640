"""A worker far from Redis: its members' room commands run on a worker near Redis, so a
slow link costs them one round trip and everyone else nothing — and nothing is lost
or applied twice when the near worker stops answering halfway."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from holdspace_client import Client
from tests.cluster import Cluster
from tests.fault_proxy import FaultProxy
from tests.processes import eventually
from tests.redis_server import RedisServer
from tests.scale.test_workers import all_see, assert_one_history, seated

pytestmark = pytest.mark.integration

RELAYING = "steps go to a nearer worker"  # worker 1's log, once it hands its commands on


@pytest.fixture
async def far(tmp_path: Path, own_redis: RedisServer) -> AsyncIterator[Cluster]:
    """Worker 0 next to Redis; worker 1 behind a link 60 ms long each way."""
    proxy = await FaultProxy(own_redis.url).start()
    proxy.latency = 0.06
    cluster = Cluster(tmp_path, own_redis)
    try:
        await cluster.start(1)
        await cluster.add_worker(redis_url=proxy.url)
        yield cluster
    finally:
        await cluster.close()
        await proxy.close()


async def in_the_room(cluster: Cluster, robin_on: int = 0) -> tuple[Client, Client]:
    """Robin (facilitating) on worker ``robin_on``; Kim, sharing, on worker 1."""
    room, _ = await seated(cluster)
    robin = await cluster.client("robin", robin_on)
    await robin.join(room)
    kim = await cluster.client("kim", 1)
    await kim.join(room)
    await kim.agree()
    await kim.set_mode("sharer")
    await all_see([robin, kim], "mode", mode="sharer")
    return robin, kim


async def counter(worker_url: str, name: str) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{worker_url}/metrics", timeout=10)).text
    [value] = [float(ln.split()[-1]) for ln in text.splitlines() if ln.startswith(f"{name} ")]
    return value


async def test_a_far_workers_members_speak_through_a_near_worker(far: Cluster) -> None:
    """Kim's worker finds its link slow and hands Kim's posts to Robin's worker: they land
    without a lost compare-and-set, however busy Robin is, in one history for both."""
    robin, kim = await in_the_room(far)
    await eventually(lambda: RELAYING in far.workers[1].log(), timeout=15)
    near, slow = far.workers
    before = await counter(slow.url, "holdspace_step_conflicts_total")
    posted = await asyncio.gather(
        *(kim.post(f"kim {i}") for i in range(5)), *(robin.post(f"robin {i}") for i in range(5))
    )
    await all_see([robin, kim], "message", seq=max(posted))
    assert_one_history([robin, kim], max(posted))
    assert await counter(slow.url, "holdspace_commands_relayed_total") >= 5
    assert await counter(near.url, "holdspace_commands_relayed_here_total") >= 5
    assert await counter(slow.url, "holdspace_step_conflicts_total") == before


async def test_a_near_worker_that_freezes_mid_command_loses_nothing_and_doubles_nothing(
    far: Cluster,
) -> None:
    """Robin's worker stops (SIGSTOP) with Kim's post handed to it. Kim's app hears the
    outcome is unknown and sends it again with the same client id; by then the frozen
    worker has missed its heartbeats, so it runs on Kim's own worker. When the frozen
    worker wakes and runs what it was handed, the client id makes it a repeat. (Robin is
    on Kim's worker: a group whose facilitator's worker froze would pause.)"""
    _, kim = await in_the_room(far, robin_on=1)
    await eventually(lambda: RELAYING in far.workers[1].log(), timeout=15)
    near = far.workers[0]
    ran_there = await counter(near.url, "holdspace_commands_relayed_here_total")
    near.process.send_signal(signal.SIGSTOP)
    try:
        seq = await kim.post("said while the near worker froze")
    finally:
        near.process.send_signal(signal.SIGCONT)
    await kim.wait_for(lambda e: e.get("type") == "message" and e.get("seq") == seq, timeout=10)
    await eventually(lambda: "hub: steps run here again" in far.workers[1].log(), timeout=15)

    # The woken worker runs what it was handed: a repeat, applied once.
    async def ran_it() -> bool:
        return await counter(near.url, "holdspace_commands_relayed_here_total") > ran_there

    await eventually(ran_it, timeout=15)
    again = await kim.post("and after it woke")
    await kim.wait_for(lambda e: e.get("type") == "message" and e.get("seq") == again, timeout=10)
    texts = [e["text"] for e in kim.history if e["type"] == "message"]
    assert texts.count("said while the near worker froze") == 1
    assert kim.duplicates == kim.gaps == 0
