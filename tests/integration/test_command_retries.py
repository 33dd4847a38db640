"""Commands sent again are never applied twice: an answer lost between a worker and a
real Redis (a proxy cuts the link after the step reached Redis) is told as
``outcome_unknown``, and the same command sent again with its ``cid`` gets the first
answer — one message, seen once by everyone."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from holdspace.clock import ManualClock
from holdspace.live.redis.scripts import WRITE
from holdspace_client import Client, CommandError
from tests.fault_proxy import FaultProxy
from tests.live import Community, LiveServer, LogCapture
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration

# The step script's name on the wire: the write to cut (the tick lease's script runs too).
STEP = hashlib.sha1(WRITE.encode(), usedforsecurity=False).hexdigest().encode()


@pytest.fixture
async def proxy(redis_server: RedisServer) -> AsyncIterator[FaultProxy]:
    proxy = await FaultProxy(redis_server.url).start()
    yield proxy
    await proxy.close()


@pytest.fixture
async def server(
    tmp_path: Path, clock: ManualClock, logs: LogCapture, proxy: FaultProxy
) -> AsyncIterator[LiveServer]:
    """A worker whose every Redis connection goes through the proxy; its probe runs
    often, so a step whose answer was lost is caught up from the log within a second."""
    live = LiveServer(
        tmp_path / "data", clock, redis_url=proxy.url,
        redis_prefix=f"hs:t{secrets.token_hex(4)}:", probe_seconds=0.3,
    )  # fmt: skip
    await asyncio.to_thread(live.start)  # the proxy runs on this loop: keep it turning
    try:
        yield live
    finally:
        await asyncio.to_thread(live.stop)


async def together(community: Community) -> tuple[Client, Client]:
    await community.person("robin", "Robin", "facilitator")
    await community.person("kim", "Kim")
    room = await community.room("robin", ["kim"])
    robin, kim = await community.client("robin"), await community.client("kim")
    await robin.join(room.id)
    await kim.join(room.id)
    await kim.agree()
    await kim.set_mode("sharer")
    return robin, kim


async def test_a_post_whose_answer_was_lost_is_sent_again_and_lands_once(
    community: Community, proxy: FaultProxy
) -> None:
    robin, kim = await together(community)
    proxy.lose_next_answer(STEP)
    with pytest.raises(CommandError) as lost:
        await kim.request("post", text="I made it through the week.", cid="kim-7")
    assert lost.value.code == "outcome_unknown"
    assert lost.value.frame["detail"] == {"retry_after": 1}
    assert proxy.cut.is_set()
    # It did land: everyone gets it once, from the log.
    landed = await robin.wait_for(lambda ev: ev.get("text") == "I made it through the week.")
    again = await kim.request("post", text="I made it through the week.", cid="kim-7")
    assert again["repeated"] is True
    assert again["message"] == landed["seq"]
    await kim.post("And this one is new.")
    await robin.wait_for(lambda ev: ev.get("text") == "And this one is new.")
    mine = await kim.wait_for(lambda ev: ev.get("text") == "And this one is new.")
    assert mine["seq"] == landed["seq"] + 1  # nothing came in between: not posted twice
    assert robin.duplicates == kim.duplicates == 0
    assert robin.gaps == kim.gaps == 0


async def test_a_refusal_is_not_remembered_so_the_same_id_is_judged_again(
    community: Community,
) -> None:
    robin, kim = await together(community)
    await robin.request("pause")
    with pytest.raises(CommandError) as refused:
        await kim.request("post", text="Is anyone there?", cid="kim-8")
    assert refused.value.code == "paused"
    await robin.request("resume")
    reply = await kim.request("post", text="Is anyone there?", cid="kim-8")
    assert "repeated" not in reply


async def test_the_client_sends_a_lost_command_again_by_itself(
    community: Community, proxy: FaultProxy
) -> None:
    """What an app does: ``post`` sends a ``cid``, hears ``outcome_unknown``, and sends the
    same command again — its caller just gets the message's id, and it lands once."""
    robin, kim = await together(community)
    proxy.lose_next_answer(STEP)
    message = await kim.post("Thank you for listening.")
    assert proxy.cut.is_set()
    seen = await robin.wait_for(lambda ev: ev.get("text") == "Thank you for listening.")
    assert seen["seq"] == message
    await kim.post("One more.")
    after = await robin.wait_for(lambda ev: ev.get("text") == "One more.")
    assert after["seq"] == message + 1
    assert robin.duplicates == robin.gaps == 0
