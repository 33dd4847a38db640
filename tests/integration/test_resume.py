"""Resuming by seq: exactly what was missed, or an explicit resync — never a partial recovery."""

from __future__ import annotations

import pytest

from holdspace_client import Client
from tests.conftest import BACKENDS
from tests.live import Community

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("server", BACKENDS, indirect=True),  # embedded, and on Redis
    pytest.mark.server_settings(log_size=5),  # a resume log of five events
]


async def setup(community: Community) -> tuple[str, str]:
    await community.person("robin", "Robin", "facilitator")
    await community.person("kim", "Kim")
    room = await community.room("robin", ["kim"])
    return room.id, community.users["kim"].id


async def both_present(community: Community, room: str) -> tuple[Client, Client]:
    """The facilitator and Kim in the room; Kim then loses her connection."""
    fac = await community.client("robin")
    await fac.join(room)
    kim = await community.client("kim")
    await kim.join(room)
    await kim.go_offline()
    return fac, kim


async def test_too_far_behind_gets_a_fresh_snapshot(community: Community) -> None:
    """When the log no longer covers the gap, the client gets a resync with the full picture."""
    room, _ = await setup(community)
    fac, kim = await both_present(community, room)
    posted = [await fac.post(f"while away {i}") for i in range(8)]
    kim.go_online()
    resync = await kim.wait_for("resync")
    assert resync["seq"] >= posted[-1]
    texts = [m["text"] for m in resync["messages"]]
    assert texts == [f"while away {i}" for i in range(8)]
    assert (await kim.wait_for("_resumed"))["via"] == "resync"
    after = await fac.post("and now")
    seen = await kim.wait_for("message")
    assert seen["seq"] == after
    assert kim.duplicates == 0


async def test_a_stale_epoch_is_never_accepted(community: Community) -> None:
    """A resume naming another epoch gets a resync, whatever its seq."""
    room, _ = await setup(community)
    kim = await community.client("kim")
    view = await kim.join(room)
    await kim.leave()
    reply = await kim.request(
        "join",
        room=room,
        resume={"session": view["session"]["key"], "epoch": "not-the-epoch", "seq": view["seq"]},
    )
    assert reply["type"] == "resync"
    assert reply["epoch"] == view["epoch"]


async def test_resuming_within_the_log_replays_only_the_gap(community: Community) -> None:
    """Inside the log's reach, the client gets the missed events and a reply saying so."""
    room, kim_id = await setup(community)
    fac, kim = await both_present(community, room)
    await fac.wait_for(lambda e: e.get("type") == "away" and e.get("user_id") == kim_id)
    posted = await fac.post("just one")
    kim.go_online()
    replayed = await kim.wait_for("message")
    assert replayed["seq"] == posted
    assert (await kim.wait_for("_resumed"))["via"] == "reply"
    assert kim.gaps == 0
    assert kim.duplicates == 0
