"""Workers on a Redis Cluster (three primaries, three replicas): rooms on different
shards, events fanned out with sharded pub/sub on each room's shard, and sessions
that go on when the shard holding them fails over or their slot moves to another
primary — nothing acknowledged lost, nothing twice, nothing skipped. (Resuming on
another worker runs on a cluster too: see ``test_workers``.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.crc import key_slot

from holdspace_client import Client
from tests.cluster import Cluster
from tests.redis_cluster import RedisClusterSetup, command
from tests.redis_server import RedisServer
from tests.scale.test_faults import holds
from tests.scale.test_sentinel import goes_on, take_turns
from tests.scale.test_workers import (
    assert_one_history,
    both_join,
    is_,
    seated,
    two_in_a_room,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def on_cluster(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Cluster, RedisClusterSetup]]:
    """Two workers on a Redis Cluster of this test's own (it may lose a node)."""
    setup = RedisClusterSetup()
    cluster = Cluster(tmp_path, setup, **getattr(request, "param", {}))  # type: ignore[arg-type]
    try:
        await cluster.start(2)
        yield cluster, setup
    finally:
        await cluster.close()
        setup.stop()


def tag(room_id: str) -> str:
    """The hash tag every key and channel of the room carries."""
    return f"{{room:{room_id}}}"


async def shard_channels(setup: RedisClusterSetup, node: RedisServer) -> list[str]:
    async with setup.admin(node) as admin:
        return sorted(await command(admin, "PUBSUB", "SHARDCHANNELS", "hs:*"))


async def test_rooms_on_different_shards_fan_out_on_their_own(
    on_cluster: tuple[Cluster, RedisClusterSetup],
) -> None:
    """Two rooms served by different primaries, each with members on both workers: each
    room's events go through its own shard's channel (``SSUBSCRIBE``), never through
    cluster-wide ``PUBLISH``; each room has one history, and the other's stays apart."""
    cluster, setup = on_cluster
    await cluster.person("robin", "Robin", "facilitator")
    ids = {n: (await cluster.person(n, n.title())).id for n in ("kim", "lee")}
    rooms: list[str] = []
    owners: list[RedisServer] = []
    while len(rooms) < 2:
        room = await cluster.room("robin", list(ids))
        owner = await setup.owner(tag(room.id))
        if owner not in owners:
            rooms.append(room.id)
            owners.append(owner)
    members: list[list[Client]] = []
    for room_id in rooms:
        robin, kim = await both_join(cluster, room_id)
        members.append([robin, kim])

    for room_id, owner in zip(rooms, owners, strict=True):
        on_owner = await shard_channels(setup, owner)
        assert any(tag(room_id) in channel for channel in on_owner), on_owner
        for other in owners:
            if other is not owner:
                assert not any(tag(room_id) in c for c in await shard_channels(setup, other))
    for node in setup.live_nodes:
        async with setup.admin(node) as admin:
            assert await command(admin, "PUBSUB", "CHANNELS", "hs:*") == []

    last = []
    for (robin, kim), room_id in zip(members, rooms, strict=True):
        await robin.post(f"hello from {room_id}")
        last.append(await kim.post(f"and back, in {room_id}"))
    for (robin, kim), room_id, upto in zip(members, rooms, last, strict=True):
        await robin.wait_for(is_("message", seq=upto), timeout=10)
        assert [e["text"] for e in robin.history if e["type"] == "message"] == [
            f"hello from {room_id}",
            f"and back, in {room_id}",
        ]
        assert_one_history([robin, kim], upto)


async def test_a_session_goes_on_when_its_shard_fails_over(
    on_cluster: tuple[Cluster, RedisClusterSetup],
) -> None:
    """``kill -9`` of the primary serving a live room, once its replica has the posts
    acknowledged so far. The replica takes over; both workers follow, and the session
    goes on: nothing acknowledged lost, nothing twice, nothing skipped. (Without the
    wait, a failover may lose the last writes: members then get a resync under a new
    epoch, never a hole. HOLDSPACE_REDIS_WAIT_REPLICAS makes the wait part of every
    acknowledgement: see the Sentinel tests; here the new primary has no replica
    left to confirm with.)"""
    cluster, setup = on_cluster
    robin, kim, _ = await two_in_a_room(cluster)
    room_id = robin.room
    assert room_id is not None
    before = await take_turns(robin, kim, 3)

    owner = await setup.owner(tag(room_id))
    (replica,) = await setup.replicas_of(owner)
    await setup.in_step(owner, replica)
    owner.crash()  # kill -9
    await setup.promoted(replica)
    assert await setup.owner(tag(room_id)) is replica
    await goes_on(robin, kim, before, 3)


async def test_a_session_goes_on_while_its_slot_moves_to_another_primary(
    on_cluster: tuple[Cluster, RedisClusterSetup],
) -> None:
    """A live room's slot migrated to another primary (keys moved with ``MIGRATE``, the
    slot handed over with ``CLUSTER SETSLOT``), as a reshard does. Workers follow the
    move (``MOVED``, and the ``SUNSUBSCRIBE`` the old owner pushes to its listeners),
    and the session goes on: nothing acknowledged lost, nothing twice."""
    cluster, setup = on_cluster
    robin, kim, _ = await two_in_a_room(cluster)
    room_id = robin.room
    assert room_id is not None
    before = ["robin 0", "kim 0"]
    await robin.post("robin 0")
    await kim.post("kim 0")
    for member in (robin, kim):
        await holds(member, before)

    source = await setup.owner(tag(room_id))
    target = next(p for p in await setup.primaries() if p is not source)
    moved = await setup.migrate_slot(key_slot(tag(room_id).encode()), source, target)
    assert moved >= 3  # the session's state, log and followers at least
    assert await setup.owner(tag(room_id)) is target
    await goes_on(robin, kim, before, 4)
    assert any(tag(room_id) in c for c in await shard_channels(setup, target))
    assert not any(tag(room_id) in c for c in await shard_channels(setup, source))


async def test_the_store_keeps_a_room_through_a_move(
    on_cluster: tuple[Cluster, RedisClusterSetup],
) -> None:
    """Accounts and rooms live in the cluster too: a room whose slot moved is still
    there for a member joining afterwards, with its roster."""
    cluster, setup = on_cluster
    room_id, ids = await seated(cluster)
    source = await setup.owner(tag(room_id))
    target = next(p for p in await setup.primaries() if p is not source)
    await setup.migrate_slot(key_slot(tag(room_id).encode()), source, target)
    lee = await cluster.client("lee", 1)
    snapshot = await lee.join(room_id)
    assert snapshot["room"]["id"] == room_id
    assert ids["lee"] in {p["user_id"] for p in snapshot["participants"]}
