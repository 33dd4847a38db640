"""One room, many worker processes: real `holdspace serve` workers sharing a real Redis.

Members on different workers must live in exactly the same room — same events, same
order, no gaps, no duplicates — through reconnects to another worker and crashes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from holdspace_client import Client, CommandError
from tests.cluster import Cluster

pytestmark = pytest.mark.integration


def is_(kind: str, **fields: Any) -> Any:
    return lambda e: e.get("type") == kind and all(e.get(k) == v for k, v in fields.items())


async def all_see(clients: list[Client], kind: str, **fields: Any) -> list[dict[str, Any]]:
    return [await c.wait_for(is_(kind, **fields), timeout=10) for c in clients]


async def refused(client: Client, kind: str, **fields: Any) -> str:
    with pytest.raises(CommandError) as error:
        await client.request(kind, **fields)
    return error.value.code


def assert_one_history(clients: list[Client], upto: int) -> None:
    """Everyone saw the same events, in the same order, with nothing missing or twice."""
    reference = None
    for client in clients:
        assert client.duplicates == 0
        assert client.gaps == 0
        seen = [(e["seq"], e["type"]) for e in client.history if e["seq"] <= upto]
        first = seen[0][0]
        assert [s for s, _ in seen] == list(range(first, upto + 1))
        if reference is not None:
            common = [x for x in seen if x[0] >= reference[0][0]]
            assert common == [x for x in reference if x[0] >= first]
        reference = seen


async def seated(cluster: Cluster, **spec: Any) -> tuple[str, dict[str, str]]:
    await cluster.person("robin", "Robin", "facilitator")
    ids = {n: (await cluster.person(n, n.title())).id for n in ("kim", "lee")}
    room = await cluster.room("robin", list(ids), **spec)
    return room.id, ids


async def two_in_a_room(cluster: Cluster) -> tuple[Client, Client, dict[str, str]]:
    room, ids = await seated(cluster)
    robin, kim = await both_join(cluster, room)
    return robin, kim, ids


async def both_join(cluster: Cluster, room: str) -> tuple[Client, Client]:
    """Robin (facilitating) on worker 0, Kim (sharing) on worker 1."""
    robin = await cluster.client("robin", 0)
    await robin.join(room)
    kim = await cluster.client("kim", 1)
    await kim.join(room)
    await kim.agree()
    await kim.set_mode("sharer")
    return robin, kim


async def test_a_group_session_spans_two_workers(cluster: Cluster) -> None:
    """The facilitator and Lee on one worker, Kim on the other: one room, one history."""
    room, ids = await seated(cluster)
    robin = await cluster.client("robin", 0)
    kim = await cluster.client("kim", 1)
    lee = await cluster.client("lee", 0)
    await robin.join(room)
    for member in (kim, lee):
        await member.join(room)
        await member.agree()
    everyone = [robin, kim, lee]
    await kim.set_mode("sharer")  # Lee just listens
    await all_see(everyone, "mode", user_id=ids["kim"], mode="sharer")

    hello = await kim.post("Hello from the other worker.")
    await all_see(everyone, "message", seq=hello)
    await lee.react(hello, "me_too")
    await all_see(everyone, "reaction", message=hello, count=1)
    assert await refused(lee, "post", text="I'm only listening") == "listening"

    await robin.request("start_round", kind="check_in")
    started = await all_see(everyone, "round_started")
    assert started[0]["order"] == [ids["kim"]]  # the listener is not called on
    await kim.request("pass")
    await all_see(everyone, "turn_ended", user_id=ids["kim"], outcome="moved_on")
    told = await robin.wait_for("turn_outcome", timeout=10)  # from the other worker
    assert (told["user_id"], told["outcome"]) == (ids["kim"], "passed")
    await all_see(everyone, "turn", user_id=ids["kim"], second_chance=True)
    await kim.post("Actually, I'd like to say a little.")
    await kim.request("done")
    await all_see(everyone, "round_ended")

    # "I need a moment" across workers, and a private answer back.
    await kim.request("whisper")
    note = await robin.wait_for("whisper", timeout=10)
    assert (note["user_id"], note["text"]) == (ids["kim"], None)
    await robin.request("whisper_reply", user=ids["kim"], text="We're here.")
    answer = await kim.wait_for("whisper", timeout=10)
    assert (answer["text"], answer["by_name"]) == ("We're here.", "Robin")

    await robin.request("mute", user=ids["kim"], minutes=5)
    await all_see(everyone, "muted", user_id=ids["kim"])
    assert await refused(kim, "post", text="hello?") == "muted"
    await robin.request("unmute", user=ids["kim"])
    await robin.request("pause", message="A short breather.")
    await all_see(everyone, "paused")
    assert await refused(kim, "post", text="during the pause") == "paused"
    await robin.request("resume")
    await all_see(everyone, "resumed")

    oops = await kim.post("Something I'd rather take back.")
    await robin.request("redact", message=oops)
    await all_see(everyone, "redacted", message=oops)
    await robin.request("remove", user=ids["lee"], reason="test removal")
    await lee.wait_for("removed", timeout=10)
    last = await robin.post("Thank you all.")
    await all_see([robin, kim], "message", seq=last)
    assert_one_history([robin, kim], last)
    assert_one_history([robin, kim, lee], oops)


async def test_capacity_holds_when_thirty_race_across_workers(cluster: Cluster) -> None:
    """Thirty members rush two workers for the last two seats: exactly two get in."""
    await cluster.person("robin", "Robin", "facilitator")
    names = [f"m{i:02}" for i in range(33)]
    for name in names:
        await cluster.person(name, name.upper())
    room = (await cluster.room("robin", names, capacity=5)).id
    robin = await cluster.client("robin", 0)
    await robin.join(room)
    for name in names[:3]:
        await (await cluster.client(name, 1)).join(room)
    racers = [await cluster.client(name, i % 2) for i, name in enumerate(names[3:])]

    async def race(client: Client) -> str:
        try:
            await client.join(room)
        except CommandError as error:
            return error.code
        return "in"

    outcomes = await asyncio.gather(*(race(c) for c in racers))
    assert sorted(outcomes).count("in") == 2
    assert set(outcomes) == {"in", "room_full"}
    members = [
        p for p in (await fresh_view(cluster, room))["participants"] if p["role"] == "member"
    ]
    assert len(members) == 5


async def fresh_view(cluster: Cluster, room: str) -> dict[str, Any]:
    """A snapshot from a new connection of the facilitator's (on the other worker)."""
    viewer = await cluster.client("robin", 1)
    snapshot = await viewer.join(room)
    await viewer.leave()
    return snapshot


@pytest.mark.parametrize("cluster", ["redis", "redis-cluster"], indirect=True)
async def test_resume_on_the_other_worker(cluster: Cluster) -> None:
    """Kim drops off worker B and comes back through worker A: exactly what she missed
    (on a Redis Cluster, read from the log on the room's shard)."""
    robin, kim, ids = await two_in_a_room(cluster)
    await kim.go_offline()
    await robin.wait_for(is_("away", user_id=ids["kim"]), timeout=10)
    missed = [await robin.post(f"while you were away {i}") for i in range(5)]
    kim.url = cluster.workers[0].ws_url
    kim.go_online()
    resumed = await kim.wait_for("_resumed", timeout=10)
    assert resumed["via"] == "reply"
    assert resumed["reply"]["resumed"] is True
    texts = [e["text"] for e in kim.history if e["type"] == "message"]
    assert texts == [f"while you were away {i}" for i in range(5)]
    after = await robin.post("welcome back")
    await kim.wait_for(is_("message", seq=after), timeout=10)
    assert_one_history([robin, kim], after)
    assert missed[-1] < after


async def test_a_killed_worker_loses_nobody_anything(cluster: Cluster) -> None:
    """`kill -9` one worker mid-session: its members resume on the other with nothing lost,
    and anyone who doesn't come back is marked away once the dead worker is noticed."""
    room, ids = await seated(cluster)
    robin = await cluster.client("robin", 1)
    await robin.join(room)
    kim = await cluster.client("kim", 0)
    lee = await cluster.client("lee", 0, reconnect=False)
    for member in (kim, lee):
        await member.join(room)
        await member.agree()
    before = await robin.post("before the crash")
    await kim.wait_for(is_("message", seq=before), timeout=10)

    cluster.workers[0].kill()
    kim.url = cluster.workers[1].ws_url  # as a load balancer would send her elsewhere
    during = [await robin.post(f"during the crash {i}") for i in range(3)]
    resumed = await kim.wait_for("_resumed", timeout=15)
    assert resumed["via"] == "reply"
    after = await robin.post("after the crash")
    await kim.wait_for(is_("message", seq=after), timeout=10)
    assert_one_history([robin, kim], after)
    assert during[0] > before
    # Lee's connection died with the worker; the room lets go of it by itself.
    await robin.wait_for(is_("away", user_id=ids["lee"]), timeout=20)


async def test_members_taking_turns_across_workers_never_lose_a_compare_and_set(
    cluster: Cluster,
) -> None:
    """Robin on one worker and Kim on the other take turns, each after hearing the other:
    each worker keeps its copy of the room current from the parts the other's steps
    publish, so every step is written at the first try (a lost compare-and-set costs a
    round trip to Redis, long when a worker's link is slow)."""
    robin, kim, _ = await two_in_a_room(cluster)
    await all_see([robin, kim], "mode", mode="sharer")
    before = [await conflicts(worker.url) for worker in cluster.workers]
    for turn in range(6):
        speaker = (robin, kim)[turn % 2]
        seq = await speaker.post(f"turn {turn}")
        await all_see([robin, kim], "message", seq=seq)
    after = [await conflicts(worker.url) for worker in cluster.workers]
    assert after == before
    assert_one_history([robin, kim], seq)


async def conflicts(worker_url: str) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{worker_url}/metrics", timeout=10)).text
    [value] = [
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("holdspace_step_conflicts_total ")
    ]
    return value
