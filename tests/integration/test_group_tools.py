"""Facilitator tools and care features through real sockets."""

from __future__ import annotations

import pytest

from holdspace_client import Client, CommandError
from tests.conftest import BACKENDS
from tests.live import Community, LiveServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("server", BACKENDS, indirect=True),  # embedded, and on Redis
]


async def gathered(community: Community, *members: str, **room_spec: object) -> tuple[
    str, Client, dict[str, Client], dict[str, str]
]:  # fmt: skip
    """Robin facilitating, the members present, affirmed and sharing."""
    await community.person("robin", "Robin", "facilitator")
    ids = {m: (await community.person(m, m.title())).id for m in members}
    room = await community.room("robin", list(members), **room_spec)
    robin = await community.client("robin")
    await robin.join(room.id)
    clients = {}
    for m in members:
        clients[m] = await community.client(m)
        await clients[m].join(room.id)
        await clients[m].agree()
        await clients[m].set_mode("sharer")
    return room.id, robin, clients, ids


async def test_removal_is_final_for_the_session_and_a_bar_lasts(
    community: Community, server: LiveServer
) -> None:
    """Removed: told kindly, sees nothing more, can't rejoin; barred: kept out of the room."""
    room, robin, people, ids = await gathered(community, "sam", "lee")
    sam, lee = people["sam"], people["lee"]
    await robin.request("remove", user=ids["lee"], bar=True, reason="threats")
    removed = await lee.wait_for("removed")
    assert "step out" in removed["message"]
    assert removed["crisis_resources"]
    left = await sam.wait_for("left")
    assert (left["user_id"], left["reason"]) == (ids["lee"], "removed")
    await sam.post("after")
    assert [e for e in lee.pending_events() if e.get("type") == "message"] == []
    with pytest.raises(CommandError) as refused:
        await lee.post("let me back")
    assert refused.value.code == "not_present"
    await lee.leave()
    with pytest.raises(CommandError) as refused:
        await lee.join(room)
    assert refused.value.code == "barred"
    assert await server.call(server.services.rooms.store.is_barred(room, ids["lee"]))


async def test_the_waiting_room(community: Community) -> None:
    """With a waiting room, facilitators admit or decline each arrival, who sees nothing before."""
    await community.person("robin", "Robin", "facilitator")
    amy_id = (await community.person("amy", "Amy")).id
    bo_id = (await community.person("bob", "Bob")).id
    room = await community.room("robin", ["amy", "bob"], waiting_room=True)
    robin = await community.client("robin")
    await robin.join(room.id)
    amy, bo = await community.client("amy"), await community.client("bob")
    assert (await amy.join(room.id))["waiting"] == "waiting_room"
    assert (await bo.join(room.id))["waiting"] == "waiting_room"
    arrivals = [await robin.wait_for("arrival"), await robin.wait_for("arrival")]
    assert {a["user_id"] for a in arrivals} == {amy_id, bo_id}
    await robin.post("Welcome, everyone already here.")
    await robin.request("admit", user=amy_id)
    admitted = await amy.wait_for("admitted")
    assert [m["text"] for m in admitted["messages"]] == ["Welcome, everyone already here."]
    await robin.request("decline", user=bo_id)
    declined = await bo.wait_for("declined")
    assert declined["crisis_resources"]
    await robin.post("Let's begin.")
    assert (await amy.wait_for("message"))["text"] == "Let's begin."
    assert [e for e in bo.pending_events() if "seq" in e] == []  # Bo saw no room events
    assert amy.gaps == amy.duplicates == 0


async def test_who_reacted_crisis_and_content_warnings(community: Community) -> None:
    """Names behind reactions for the author only; crisis text on request; warnings travel."""
    _, robin, people, _ = await gathered(community, "sam", "lee")
    sam, lee = people["sam"], people["lee"]
    seq = await sam.post("about the accident", sensitive=True)
    seen = await lee.wait_for("message")
    assert seen["sensitive"] is True
    await lee.react(seq, "heart")
    assert (await sam.request("who_reacted", message=seq))["reactions"] == {"heart": ["Lee"]}
    with pytest.raises(CommandError) as refused:
        await lee.request("who_reacted", message=seq)
    assert refused.value.code == "forbidden"
    crisis = await lee.request("crisis")
    assert "not a crisis service" in crisis["crisis_resources"]
    assert robin.duplicates == 0


async def test_slow_mode(community: Community) -> None:
    """Slow mode spaces a member's posts and says how long to wait."""
    _, robin, people, _ = await gathered(community, "sam")
    await robin.request("slow_mode", seconds=20)
    await people["sam"].wait_for("slow_mode")
    await people["sam"].post("one")
    with pytest.raises(CommandError) as refused:
        await people["sam"].post("two")
    assert refused.value.code == "slow_mode"
    assert refused.value.frame["detail"]["retry_after"] == 20


async def test_a_facilitator_coming_back_gets_the_whispers_they_missed(
    community: Community,
) -> None:
    """Whispers aren't replayed like events, so a facilitator's resume reply carries them."""
    _, robin, people, _ = await gathered(community, "sam")
    await robin.go_offline()
    await people["sam"].wait_for("paused")
    sent = await people["sam"].request("whisper", text="Is anyone there?")
    assert sent["facilitators_present"] is False
    robin.go_online()
    resumed = await robin.wait_for("_resumed")
    assert resumed["via"] == "reply"
    [whisper] = resumed["reply"]["whispers"]
    assert (whisper["id"], whisper["text"]) == (sent["whisper"], "Is anyone there?")
