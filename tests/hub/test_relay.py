"""A worker far from Redis hands its members' room commands to a nearer worker: the
command runs there, its events reach everyone from there, and its outcome — a reply,
a refusal, or a failure — comes back as if it had run here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from holdspace.core import commands as c
from holdspace.core.room import Transition, apply
from holdspace.core.state import RoomState
from holdspace.errors import Code, OutcomeUnknown, Unavailable
from holdspace.live.base import HubStats, Portable, relayed_answer, relayed_failure
from holdspace.live.redis import HubTuning, RedisHub
from holdspace.live.redis.keys import Keys
from holdspace.live.redis.relay import Relay
from tests.core.helpers import T0, config
from tests.hub.test_hub_contract import KEY, seat_facilitator
from tests.hub.test_redis_hub import Watcher, two_hubs
from tests.redis_server import RedisServer


def post(user: str, text: str) -> Portable:
    """A post as a member's worker would send it on: runnable here, or by its request."""

    def step(state: RoomState) -> Transition:
        return apply(state, user, c.Post(text), T0 + 1)

    return Portable(step, {"user": user, "text": text})


class Near:
    """What the live sessions do with a relayed request, for a hub on its own."""

    def __init__(self, hub: RedisHub) -> None:
        self.hub = hub
        self.ran: list[Mapping[str, Any]] = []
        self.hold: asyncio.Event | None = None  # set: answer only once it is set

    async def __call__(self, request: Mapping[str, Any]) -> Mapping[str, Any]:
        self.ran.append(request)
        if self.hold is not None:
            await self.hold.wait()
        try:
            t = await self.hub.transact(request["key"], post(request["user"], request["text"]))
        except Unavailable as error:
            return relayed_failure(error)
        assert t is not None
        return relayed_answer(t)


@pytest.fixture
async def near_and_far(redis_server: RedisServer) -> AsyncIterator[tuple[RedisHub, RedisHub]]:
    tuning = HubTuning(probe_seconds=3600, command_timeout_seconds=1.0)
    near, far = await two_hubs(redis_server.url, tuning)
    near.take_relayed(Near(near))
    far.take_relayed(Near(far))
    far.relay.choose(120.0, {near.worker_id: 1.0, far.worker_id: 120.0})
    assert far.relay.peer == near.worker_id
    yield near, far
    for hub in (near, far):
        await hub.close()


async def test_a_far_workers_command_runs_on_the_near_one(
    near_and_far: tuple[RedisHub, RedisHub],
) -> None:
    near, far = near_and_far
    on_near, on_far = Watcher(), Watcher()
    await near.subscribe(KEY, on_near)
    await far.subscribe(KEY, on_far)
    await seat_facilitator(near)
    t = await far.transact(KEY, post("fac", "sent from far away"))
    assert t is not None
    assert t.error is None
    assert t.reply["message"] == 3
    # The sender's worker has the events before the answer, as when it runs them itself.
    assert any("sent from far away" in d.frame for d in on_far.got)
    await on_near.hears("sent from far away")
    assert (far.stats.relayed, near.stats.relayed_here) == (1, 1)
    assert far.stats.conflicts == near.stats.conflicts == 0


async def test_a_refusal_comes_back_with_its_code(
    near_and_far: tuple[RedisHub, RedisHub],
) -> None:
    near, far = near_and_far
    await seat_facilitator(near)
    t = await far.transact(KEY, post("stranger", "not in the room"))
    assert t is not None
    assert t.error is not None
    assert t.error.code == Code.NOT_PRESENT
    assert t.events == []


async def test_a_peer_that_isnt_listening_means_the_command_runs_here(
    near_and_far: tuple[RedisHub, RedisHub],
) -> None:
    near, far = near_and_far
    await seat_facilitator(near)
    far.relay.choose(120.0, {"a-worker-gone": 1.0})
    assert far.relay.peer == "a-worker-gone"
    t = await far.transact(KEY, post("fac", "nobody to hand it to"))
    assert t is not None
    assert [ev.type for ev in t.events] == ["message"]
    assert far.stats.relayed == 0


async def test_an_answer_that_doesnt_come_back_is_an_unknown_outcome(
    near_and_far: tuple[RedisHub, RedisHub],
) -> None:
    """The near worker got the command but its answer doesn't come within the command
    timeout: it may have run, so the sender is told so (and sends it again with its
    client id), never that it failed."""
    near, far = near_and_far
    await seat_facilitator(near)
    serving = Near(near)
    serving.hold = asyncio.Event()
    near.take_relayed(serving)
    with pytest.raises(OutcomeUnknown):
        await far.transact(KEY, post("fac", "slow to answer"))
    assert len(serving.ran) == 1
    serving.hold.set()


async def test_a_near_worker_that_cant_reach_redis_says_so(
    near_and_far: tuple[RedisHub, RedisHub],
) -> None:
    near, far = near_and_far
    await seat_facilitator(near)
    near.states.redis_answers(False)  # as the health check finds a stalled Redis
    with pytest.raises(Unavailable) as refused:
        await far.transact(KEY, post("fac", "nothing ran"))
    assert not isinstance(refused.value, OutcomeUnknown)


async def test_only_portable_steps_and_existing_sessions_are_relayed(
    near_and_far: tuple[RedisHub, RedisHub],
) -> None:
    """Creating a session, and steps only this worker can describe (a join holding its
    connection, a tick), run here."""
    _, far = near_and_far

    def join(state: RoomState) -> Transition:
        return apply(state, "fac", c.Join("c1", "Fac", "facilitator"), T0)

    t = await far.transact(KEY, join, lambda: RoomState(config=config(), epoch="e1"))
    assert t is not None
    assert far.stats.relayed == 0


@pytest.mark.parametrize(
    ("own", "links", "slow", "chosen"),
    [
        (120.0, {"near": 1.0}, 25.0, "near"),  # far, and a peer much nearer
        (120.0, {"near": 40.0}, 25.0, None),  # the peer isn't four times nearer
        (10.0, {"near": 1.0}, 25.0, None),  # near enough here
        (120.0, {}, 25.0, None),  # nobody else
        (120.0, {"near": 1.0}, 0.0, None),  # relaying turned off
        (120.0, {"b": 2.0, "a": 2.0, "c": 3.0}, 25.0, "a"),  # the nearest, the same each time
    ],
)
def test_where_steps_go(
    own: float, links: dict[str, float], slow: float, chosen: str | None
) -> None:
    relay = Relay(None, None, Keys("hs:"), "me", HubStats(), slow_ms=slow, timeout=1.0)  # type: ignore[arg-type]
    relay.choose(own, {**links, "me": own})
    assert relay.peer == chosen


def test_a_chosen_peer_is_kept_while_this_link_stays_slowish() -> None:
    relay = Relay(None, None, Keys("hs:"), "me", HubStats(), slow_ms=25.0, timeout=1.0)  # type: ignore[arg-type]
    relay.choose(120.0, {"near": 1.0})
    relay.choose(20.0, {"near": 1.0, "other": 0.5})  # under the threshold, over half of it
    assert relay.peer == "near"
    relay.choose(10.0, {"near": 1.0})
    assert relay.peer is None
