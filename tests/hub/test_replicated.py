"""Acknowledged means on a replica, when asked: with ``wait_replicas``, a step is
answered only once that many replicas have it (one ``WAIT`` per write), so a failover
to one of them can't lose it; a replica that doesn't confirm in time makes the
outcome unknown, and the client's id makes sending it again safe."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from holdspace.core import commands as c
from holdspace.core.room import Transition, apply
from holdspace.core.state import RoomState
from holdspace.errors import OutcomeUnknown
from holdspace.live.base import Step
from holdspace.live.redis import HubTuning, RedisHub
from holdspace.protocol import encode_event, encode_notice, encode_service
from tests.core.helpers import T0
from tests.hub.test_hub_contract import KEY, seat_facilitator
from tests.redis_server import ADMIN_PASSWORD, RedisServer


@pytest.fixture
def replicated() -> Iterator[tuple[RedisServer, RedisServer]]:
    primary = RedisServer("--repl-diskless-sync-delay", "0")  # a replica syncs at once
    replica = RedisServer(
        "--replicaof", "127.0.0.1", str(primary.port),
        "--masteruser", "admin", "--masterauth", ADMIN_PASSWORD,
    )  # fmt: skip
    try:
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()


async def hub_on(primary: RedisServer, wait_replicas: int) -> RedisHub:
    tuning = HubTuning(probe_seconds=3600, wait_replicas=wait_replicas)
    return await RedisHub.open(
        primary.url, encode_event, encode_notice, encode_service,
        prefix=f"hs:r{secrets.token_hex(4)}:", tuning=tuning,
    )  # fmt: skip


@pytest.fixture
async def in_step(replicated: tuple[RedisServer, RedisServer]) -> None:
    """Until the replica has caught up with the primary once (a fresh replica syncs)."""
    primary, _ = replicated
    admin = Redis.from_url(primary.admin_url)
    try:
        while await admin.wait(1, 1000) < 1:
            pass
    finally:
        await admin.aclose()


def post(text: str, cid: str) -> Step:
    def step(state: RoomState) -> Transition:
        return apply(state, "fac", c.Post(text), T0 + 1, cid)

    return step


@pytest.mark.usefixtures("in_step")
async def test_an_answered_step_is_on_the_replica(
    replicated: tuple[RedisServer, RedisServer],
) -> None:
    primary, replica = replicated
    hub = await hub_on(primary, wait_replicas=1)
    on_replica = Redis.from_url(replica.admin_url, decode_responses=True)
    try:
        await seat_facilitator(hub)
        for i in range(5):
            t = await hub.transact(KEY, post(f"kept {i}", f"cid-{i}"))
            assert t is not None
            assert t.error is None
            # Answered: the replica has this very version, not just an earlier one.
            version = hub.states._cache[KEY].version
            assert await on_replica.hget(hub.keys.state(KEY), "v") == version
    finally:
        await on_replica.aclose()
        await hub.close()


@pytest.mark.usefixtures("in_step")
@pytest.mark.parametrize("wait_replicas", [1, 0])
async def test_a_replica_that_doesnt_confirm_makes_the_outcome_unknown(
    replicated: tuple[RedisServer, RedisServer], wait_replicas: int
) -> None:
    """The replica frozen: waiting for it, the post's outcome is unknown (it ran on the
    primary), and sent again with its client id once the replica is back, it is a
    repeat. Not waiting, the post is acknowledged at once — and a failover now would
    lose it."""
    primary, replica = replicated
    hub = await hub_on(primary, wait_replicas)
    try:
        await seat_facilitator(hub)
        replica.pause()
        try:
            if wait_replicas:
                with pytest.raises(OutcomeUnknown):
                    await hub.transact(KEY, post("in doubt", "cid-x"))
            else:
                t = await hub.transact(KEY, post("in doubt", "cid-x"))
                assert t is not None
                assert t.error is None
        finally:
            replica.unpause()
        again = await hub.transact(KEY, post("in doubt", "cid-x"))
        assert again is not None
        assert again.reply.get("repeated") is True
        assert [ev.type for ev in again.events] == []
    finally:
        await hub.close()
