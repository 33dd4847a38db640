"""A whole group session through real sockets: a facilitator and three members."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from holdspace.clock import ManualClock
from holdspace_client import Client, CommandError
from tests.live import Community, LiveServer

pytestmark = pytest.mark.integration


def seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["seq"] for e in events if "seq" in e]


async def events_until(client: Client, kind: str) -> list[dict[str, Any]]:
    """Every event up to and including the first of ``kind``."""
    out = []
    while True:
        event = await client.next_event()
        out.append(event)
        if event.get("type") == kind:
            return out


async def everyone_sees(clients: list[Client], kind: str, **match: Any) -> list[dict[str, Any]]:
    """Wait until each client has received an event of ``kind`` with these fields."""

    def wanted(event: dict[str, Any]) -> bool:
        return event.get("type") == kind and all(event.get(k) == v for k, v in match.items())

    return [await c.wait_for(wanted) for c in clients]


async def test_a_group_session_end_to_end(community: Community, server: LiveServer) -> None:
    """Join, listen, opt in, post, react, mute, pause, resume, reconnect and leave."""
    fac_user = await community.person("robin", "Robin", "facilitator")
    people = {name: await community.person(name, name.title()) for name in ("sam", "lee", "kim")}
    room = await community.room("robin", list(people))
    fac = await community.client("robin")
    snapshot = await fac.join(room.id)
    assert snapshot["type"] == "snapshot"
    assert snapshot["session"]["phase"] == "live"

    sam, lee, kim = [await community.client(n) for n in ("sam", "lee", "kim")]
    everyone = [fac, sam, lee, kim]
    for member in (sam, lee, kim):
        view = await member.join(room.id)
        assert view["you"]["mode"] == "listener"  # everyone arrives listening
    await everyone_sees([fac], "joined")
    assert kim.snapshot is not None
    assert {p["name"]: p["mode"] for p in kim.snapshot["participants"]} == {
        "Robin": "listener", "Sam": "listener", "Lee": "listener", "Kim": "listener",
    }  # fmt: skip

    # Kim only listens. Sam and Lee affirm the agreement and opt in to share.
    with pytest.raises(CommandError) as refused:
        await kim.post("can I?")
    assert refused.value.code == "agreement_required"
    for member in (sam, lee):
        await member.agree()
        await member.set_mode("sharer")
    await everyone_sees(everyone, "mode", user_id=people["lee"].id, mode="sharer")

    message = await sam.post("It has been a long week. Thank you for being here.")
    seen = await everyone_sees(everyone, "message", seq=message)
    assert {e["text"] for e in seen} == {"It has been a long week. Thank you for being here."}
    assert {e["name"] for e in seen} == {"Sam"}

    # Listeners take part by reacting; counts carry no names.
    await kim.react(message, "me_too")
    await lee.react(message, "me_too")
    counts = await everyone_sees(everyone, "reaction", message=message, count=2)
    assert all("user_id" not in e for e in counts)

    await kim.agree()
    with pytest.raises(CommandError) as refused:
        await kim.post("still listening")
    assert refused.value.code == "listening"

    # A timed mute: Lee is told clearly, everyone sees it, and it expires by the clock.
    await fac.request("mute", user=people["lee"].id, minutes=5, reason="a breather")
    muted = await everyone_sees(everyone, "muted", user_id=people["lee"].id)
    assert muted[0]["by"] == fac_user.id
    with pytest.raises(CommandError) as refused:
        await lee.post("but I wanted to say")
    assert refused.value.code == "muted"
    assert "paused your messages" in refused.value.message
    server.clock.advance(5 * 60)
    await everyone_sees(everyone, "unmuted", user_id=people["lee"].id, by=None)
    await lee.post("Thanks for the pause. I'm okay.")

    # Pause and resume: only facilitators speak while paused.
    await fac.request("pause", message="Let's take a breath together")
    paused = await everyone_sees(everyone, "paused")
    assert paused[0]["message"] == "Let's take a breath together"
    with pytest.raises(CommandError) as refused:
        await sam.post("sorry")
    assert refused.value.code == "paused"
    await fac.post("Breathe in for four, out for six.")
    await fac.request("resume")
    await everyone_sees(everyone, "resumed")

    # Kim's connection drops; the room goes on; Kim comes back and misses nothing.
    await kim.go_offline()
    await everyone_sees([fac, sam, lee], "away", user_id=people["kim"].id)
    missed = [await sam.post(f"while you were away {i}") for i in range(3)]
    await everyone_sees([fac], "message", seq=missed[-1])
    kim.go_online()
    caught_up = await events_until(kim, "_resumed")
    assert caught_up[-1]["via"] == "reply"  # from the log, no resync
    replayed = [e for e in caught_up if e.get("type") == "message"]
    assert [e["seq"] for e in replayed] == missed
    assert [e["text"] for e in replayed] == [f"while you were away {i}" for i in range(3)]
    await everyone_sees([fac, sam, lee], "back", user_id=people["kim"].id)

    # Lee leaves; the others see it.
    await lee.leave()
    await everyone_sees([fac, sam, kim], "left", user_id=people["lee"].id, reason="left")

    final = await sam.post("Goodnight, everyone.")
    await everyone_sees([fac, sam, kim], "message", seq=final)
    for client in everyone:
        assert client.duplicates == 0
        assert client.gaps == 0
    assert kim.reconnects == 1


async def test_members_cannot_moderate(community: Community) -> None:
    """A member's facilitator commands are refused and nobody else sees anything."""
    await community.person("robin", "Robin", "facilitator")
    sam_user = await community.person("sam", "Sam")
    await community.person("lee", "Lee")
    room = await community.room("robin", ["sam", "lee"])
    sam, lee = await community.client("sam"), await community.client("lee")
    await sam.join(room.id)
    await lee.join(room.id)
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("mute", {"user": sam_user.id}),
        ("pause", {}),
        ("end_session", {}),
        ("unmute", {"user": sam_user.id}),
    ]
    for kind, fields in attempts:
        with pytest.raises(CommandError) as refused:
            await lee.request(kind, **fields)
        assert refused.value.code == "forbidden"
    pong = await sam.request("ping")
    assert pong["type"] == "pong"
    assert [e for e in sam.pending_events() if e["type"] != "joined"] == []


async def test_the_endpoint_works_under_uvicorns_own_websocket_protocol(
    tmp_path: Path, clock: ManualClock
) -> None:
    """Served by uvicorn's own WebSocket protocol (another deployment's choice), the
    endpoint has neither Holdspace's frame sender nor its receiver, and goes through ASGI
    for both: a session still runs, and a member whose socket closes is seen to go."""
    live = LiveServer(tmp_path / "data", clock, ws="websockets-sansio")
    live.start()
    world = Community(live)
    try:
        await world.person("robin", "Robin", "facilitator")
        sam_id = (await world.person("sam", "Sam")).id
        room = await world.room("robin", ["sam"])
        fac = await world.client("robin")
        await fac.join(room.id)
        sam = await world.client("sam")
        await sam.join(room.id)
        await sam.agree()
        await sam.set_mode("sharer")
        seq = await sam.post("hello from a plain server")
        seen = await fac.wait_for(lambda e: e.get("type") == "message" and e.get("seq") == seq)
        assert seen["text"] == "hello from a plain server"
        await sam.close()
        await fac.wait_for(lambda e: e.get("type") == "away" and e.get("user_id") == sam_id)
    finally:
        await world.close()
        live.stop()
