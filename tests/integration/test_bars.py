"""Bars through a real server: a facilitator keeps a member out of sessions until unbarred."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from holdspace.records import Room
from holdspace.rooms import BARRED
from holdspace_client import CommandError
from tests.live import Community, LiveServer, bearer

pytestmark = pytest.mark.integration


def error_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


class Bars:
    """The bars endpoints of one room, called as one person."""

    def __init__(self, http: httpx.AsyncClient, community: Community, room: Room) -> None:
        self.http = http
        self.community = community
        self.path = f"/api/rooms/{room.id}/bars"

    def _as(self, username: str) -> dict[str, str]:
        return bearer(self.community.tokens[username])

    async def index(self, username: str) -> httpx.Response:
        return await self.http.get(self.path, headers=self._as(username))

    async def bar(self, username: str, target: str, reason: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"user_id": target}
        if reason is not None:
            body["reason"] = reason
        return await self.http.post(self.path, json=body, headers=self._as(username))

    async def unbar(self, username: str, target: str) -> httpx.Response:
        return await self.http.delete(f"{self.path}/{target}", headers=self._as(username))

    async def listed(self, username: str = "robin") -> list[dict[str, Any]]:
        response = await self.index(username)
        assert response.status_code == 200, response.text
        bars: list[dict[str, Any]] = response.json()["bars"]
        return bars


async def join_refusal(community: Community, username: str, room: Room) -> CommandError:
    client = await community.client(username)
    with pytest.raises(CommandError) as refused:
        await client.join(room.id)
    return refused.value


async def test_a_barred_member_cannot_join_until_unbarred(
    community: Community, server: LiveServer, http: httpx.AsyncClient
) -> None:
    """After a bar the member's join is refused with `barred`; after the unbar it works again."""
    robin = await community.person("robin", "Robin", "facilitator")
    sam = await community.person("sam", "Sam")
    room = await community.room("robin", ["sam"])
    bars = Bars(http, community, room)

    barred = await bars.bar("robin", sam.id, reason="  repeated <b>harassment</b> ")
    assert barred.status_code == 200, barred.text
    entry = barred.json()["bar"]
    assert entry["user_id"] == sam.id
    assert entry["name"] == "Sam"
    assert entry["by"] == robin.id
    assert entry["reason"] == "repeated <b>harassment</b>"  # as typed, trimmed
    assert datetime.fromisoformat(entry["at"]).timestamp() == pytest.approx(
        server.clock.now(), abs=0.01
    )
    assert await bars.listed() == [entry]

    sam_ws = await community.client("sam")
    with pytest.raises(CommandError) as refused:
        await sam_ws.join(room.id)
    assert refused.value.code == "barred"
    assert refused.value.message == BARRED
    assert (await sam_ws.request("ping"))["type"] == "pong"  # the socket lives on, in no room

    # The member still knows the room exists: it is listed and readable, just not joinable.
    sam_http = bearer(community.tokens["sam"])
    assert (await http.get(f"/api/rooms/{room.id}", headers=sam_http)).status_code == 200
    mine = (await http.get("/api/rooms", headers=sam_http)).json()["rooms"]
    assert [r["id"] for r in mine] == [room.id]

    lifted = await bars.unbar("robin", sam.id)
    assert lifted.status_code == 200
    assert await bars.listed() == []
    snapshot = await sam_ws.join(room.id)
    assert snapshot["you"]["user_id"] == sam.id


async def test_a_bar_keeps_others_and_other_rooms_unaffected(
    community: Community, http: httpx.AsyncClient
) -> None:
    """A bar applies to one member in one room: others join it, and the member joins elsewhere."""
    await community.person("robin", "Robin", "facilitator")
    sam = await community.person("sam", "Sam")
    await community.person("lee", "Lee")
    room = await community.room("robin", ["sam", "lee"])
    elsewhere = await community.room("robin", ["sam"])
    assert (await Bars(http, community, room).bar("robin", sam.id)).status_code == 200

    assert (await join_refusal(community, "sam", room)).code == "barred"
    lee = await community.client("lee")
    assert (await lee.join(room.id))["you"]["user_id"] == community.users["lee"].id
    other = await community.client("sam")
    assert (await other.join(elsewhere.id))["you"]["user_id"] == sam.id


async def test_a_barred_outsider_is_not_enrolled_by_joining_an_open_room(
    community: Community, http: httpx.AsyncClient
) -> None:
    """Joining an open room enrols anyone — except someone barred from it, who is refused."""
    await community.person("robin", "Robin", "facilitator")
    kim = await community.person("kim", "Kim")
    room = await community.room("robin", [], visibility="open")
    assert (await Bars(http, community, room).bar("robin", kim.id)).status_code == 200
    assert (await join_refusal(community, "kim", room)).code == "barred"
    roster = await http.get(
        f"/api/rooms/{room.id}/roster", headers=bearer(community.tokens["robin"])
    )
    assert roster.json()["members"] == []


async def test_members_cannot_list_bar_or_unbar(
    community: Community, http: httpx.AsyncClient
) -> None:
    """An enrolled member gets 403 from every bars endpoint; an outsider gets the room's 404."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    lee = await community.person("lee", "Lee")
    await community.person("kim", "Kim")
    room = await community.room("robin", ["sam", "lee"])
    bars = Bars(http, community, room)
    assert (await bars.bar("robin", lee.id)).status_code == 200

    for response in (
        await bars.index("sam"),
        await bars.bar("sam", lee.id),
        await bars.unbar("sam", lee.id),
    ):
        assert response.status_code == 403
        assert error_of(response)["code"] == "forbidden"
    for response in (
        await bars.index("kim"),
        await bars.bar("kim", lee.id),
        await bars.unbar("kim", lee.id),
    ):
        assert response.status_code == 404
    assert [b["user_id"] for b in await bars.listed()] == [lee.id]


async def test_facilitators_and_admins_cannot_be_barred(
    community: Community, http: httpx.AsyncClient
) -> None:
    """Barring the room's owner, a co-facilitator or an admin is a 403; nothing is recorded."""
    robin = await community.person("robin", "Robin", "facilitator")
    alex = await community.person("alex", "Alex", "facilitator")
    ada = await community.person("ada", "Ada", "admin")
    room = await community.room("robin", [], co_facilitators=["alex"])
    bars = Bars(http, community, room)
    for actor, target in (("robin", alex.id), ("robin", robin.id), ("alex", ada.id)):
        response = await bars.bar(actor, target)
        assert response.status_code == 403, (actor, target)
        assert error_of(response)["code"] == "forbidden"
    assert await bars.listed() == []
    record = await http.get(
        f"/api/rooms/{room.id}/moderation", headers=bearer(community.tokens["robin"])
    )
    assert "bar" not in {e["action"] for e in record.json()["entries"]}


async def test_bad_bar_requests_are_refused(community: Community, http: httpx.AsyncClient) -> None:
    """Unknown people, a missing user_id, a bad or long reason and unbarring nobody are refused."""
    await community.person("robin", "Robin", "facilitator")
    sam = await community.person("sam", "Sam")
    room = await community.room("robin", ["sam"])
    bars = Bars(http, community, room)
    fac = bearer(community.tokens["robin"])

    assert (await bars.bar("robin", "u_0000000000000000")).status_code == 404
    missing = await http.post(bars.path, json={}, headers=fac)
    assert missing.status_code == 400
    assert error_of(missing)["detail"]["field"] == "user_id"
    typed = await http.post(bars.path, json={"user_id": sam.id, "reason": 5}, headers=fac)
    assert typed.status_code == 400
    assert error_of(typed)["detail"]["field"] == "reason"
    long = await bars.bar("robin", sam.id, reason="x" * 201)
    assert long.status_code == 400
    assert error_of(long)["code"] == "too_long"
    not_barred = await bars.unbar("robin", sam.id)
    assert not_barred.status_code == 404
    assert error_of(not_barred)["code"] == "not_found"
    assert await bars.listed() == []


async def test_barring_twice_keeps_the_first_bar(
    community: Community, http: httpx.AsyncClient
) -> None:
    """A second bar of a barred member changes nothing and adds nothing to the record."""
    robin = await community.person("robin", "Robin", "facilitator")
    await community.person("alex", "Alex", "facilitator")
    sam = await community.person("sam", "Sam")
    room = await community.room("robin", ["sam"], co_facilitators=["alex"])
    bars = Bars(http, community, room)
    first = await bars.bar("robin", sam.id, reason="first")
    second = await bars.bar("alex", sam.id, reason="second")
    assert second.status_code == 200
    assert second.json()["bar"] == first.json()["bar"]
    [only] = await bars.listed("alex")
    assert (only["by"], only["reason"]) == (robin.id, "first")
    record = await http.get(
        f"/api/rooms/{room.id}/moderation", headers=bearer(community.tokens["robin"])
    )
    assert [e["action"] for e in record.json()["entries"]].count("bar") == 1


async def test_the_moderation_record_shows_bar_and_unbar(
    community: Community, http: httpx.AsyncClient
) -> None:
    """Bar and unbar each leave a record entry naming who, whom and why; admins may do both."""
    robin = await community.person("robin", "Robin", "facilitator")
    ada = await community.person("ada", "Ada", "admin")
    sam = await community.person("sam", "Sam")
    room = await community.room("robin", ["sam"])
    bars = Bars(http, community, room)
    assert (await bars.bar("robin", sam.id, reason="threats")).status_code == 200
    assert [b["user_id"] for b in await bars.listed("ada")] == [sam.id]
    assert (await bars.unbar("ada", sam.id)).status_code == 200

    record = await http.get(
        f"/api/rooms/{room.id}/moderation", headers=bearer(community.tokens["robin"])
    )
    entries = [e for e in record.json()["entries"] if e["action"] in ("bar", "unbar")]
    assert [(e["action"], e["actor_id"], e["target_id"]) for e in entries] == [
        ("bar", robin.id, sam.id),
        ("unbar", ada.id, sam.id),
    ]
    assert [e["reason"] for e in entries] == ["threats", None]
    assert all(e["room_id"] == room.id and e["session_key"] is None for e in entries)


async def test_a_barred_member_cannot_redeem_an_invite(
    community: Community, http: httpx.AsyncClient
) -> None:
    """Redeeming a code for a room one is barred from is a 403 `barred` that uses nothing."""
    await community.person("robin", "Robin", "facilitator")
    sam = await community.person("sam", "Sam")
    kim = await community.person("kim", "Kim")
    room = await community.room("robin", ["sam"])
    bars = Bars(http, community, room)
    fac = bearer(community.tokens["robin"])
    created = await http.post(f"/api/rooms/{room.id}/invites", json={"max_uses": 1}, headers=fac)
    code = created.json()["code"]
    for target in (sam.id, kim.id):
        assert (await bars.bar("robin", target)).status_code == 200

    async def redeem(name: str) -> httpx.Response:
        return await http.post(
            "/api/invites/redeem", json={"code": code}, headers=bearer(community.tokens[name])
        )

    for name in ("kim", "sam"):  # an outsider, and an enrolled member reopening a link
        refused = await redeem(name)
        assert refused.status_code == 403, name
        assert error_of(refused)["code"] == "barred"
        assert error_of(refused)["message"] == BARRED
    roster = (await http.get(f"/api/rooms/{room.id}/roster", headers=fac)).json()["members"]
    assert [m["id"] for m in roster] == [sam.id]
    [invite] = (await http.get(f"/api/rooms/{room.id}/invites", headers=fac)).json()["invites"]
    assert invite["uses"] == 0

    assert (await bars.unbar("robin", kim.id)).status_code == 200
    admitted = await redeem("kim")
    assert admitted.status_code == 200
    assert admitted.json()["room"]["id"] == room.id
