"""Redis behind Sentinel: workers find the primary through the sentinels, and when it
dies (``kill -9``) and the replica is promoted, they follow by themselves — the group
session goes on with nothing acknowledged lost, nothing twice, nothing skipped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from holdspace_client import Client
from tests.cluster import Cluster
from tests.redis_sentinel import SERVICE, SentinelSetup
from tests.scale.test_faults import holds, post_when_back
from tests.scale.test_workers import two_in_a_room

pytestmark = pytest.mark.integration


@pytest.fixture
async def behind_sentinel(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Cluster, SentinelSetup]]:
    """Two workers behind Sentinel (with the workers' settings a test parametrizes). Two
    replicas when the workers wait for one: after a failover, one is left to confirm."""
    settings = getattr(request, "param", {})
    setup = SentinelSetup(replicas=2 if "redis_wait_replicas" in settings else 1)
    cluster = Cluster(tmp_path, setup, **settings)  # type: ignore[arg-type]
    try:
        await setup.settled()
        await cluster.start(2)
        yield cluster, setup
    finally:
        await cluster.close()
        setup.stop()


WAITING = {"redis_wait_replicas": "1"}


@pytest.mark.parametrize("behind_sentinel", [{}, WAITING], indirect=True, ids=["", "waiting"])
async def test_a_group_session_goes_on_through_a_failover(
    behind_sentinel: tuple[Cluster, SentinelSetup], request: pytest.FixtureRequest
) -> None:
    """Killed at once after the posts were acknowledged: with HOLDSPACE_REDIS_WAIT_REPLICAS
    that is enough for the replica to have them; without, the test first waits until
    the replica is in step (``WAIT``), as nothing else would promise it."""
    cluster, setup = behind_sentinel
    waiting = request.node.callspec.params["behind_sentinel"] == WAITING
    robin, kim, _ = await two_in_a_room(cluster)
    before = await take_turns(robin, kim, 3)
    if not waiting:
        # Without it, the last writes may be lost in a failover (members then get a
        # resync under a new epoch, never a hole): wait until the replica has them.
        await setup.in_step()

    setup.primary.crash()  # kill -9
    promoted = await setup.promoted()
    await goes_on(robin, kim, before, 3)
    assert promoted.port == await setup.primary_port()


async def test_a_session_follows_a_failover_while_the_old_primary_lives_on(
    behind_sentinel: tuple[Cluster, SentinelSetup],
) -> None:
    """An operator's failover (``SENTINEL FAILOVER``): the old primary stays up, as a
    replica. Connections to it let go at their first write (refused ``READONLY``) and
    find the new primary; nothing acknowledged is lost and nothing comes twice."""
    cluster, setup = behind_sentinel
    robin, kim, _ = await two_in_a_room(cluster)
    before = ["robin 0", "kim 0"]
    await robin.post("robin 0")
    await kim.post("kim 0")
    for member in (robin, kim):
        await holds(member, before)
    await setup.in_step()

    sentinel = setup.sentinels[0].client()
    try:
        await sentinel.sentinel_failover(SERVICE)
    finally:
        await sentinel.aclose()
    await setup.promoted()
    await goes_on(robin, kim, before, 4)


async def take_turns(robin: Client, kim: Client, rounds: int) -> list[str]:
    """Each posts in turn; returns the texts, once both hold them all."""
    before = []
    for i in range(rounds):
        before += [f"robin {i}", f"kim {i}"]
        await robin.post(f"robin {i}")
        await kim.post(f"kim {i}")
    for member in (robin, kim):
        await holds(member, before)
    return before


async def goes_on(robin: Client, kim: Client, before: list[str], posts: int) -> None:
    """After the failover: each posts in turn (retrying while the service is away), and
    both hold everything acknowledged before it and after, each once."""
    after = [f"after {i}" for i in range(posts)]
    for i, text in enumerate(after):
        await post_when_back(robin if i % 2 == 0 else kim, text, timeout=30)
    for member in (robin, kim):
        await holds(member, before + after, timeout=30)
        assert member.duplicates == 0
