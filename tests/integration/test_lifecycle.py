"""Sessions and sign-ins over time: ending early, signing out, several tabs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from holdspace_client import CommandError
from tests.live import Community, LiveServer, open_now_schedule

pytestmark = pytest.mark.integration


async def test_a_session_ended_early_stays_ended(community: Community, server: LiveServer) -> None:
    """After a facilitator ends the session, joining again is refused until the next one."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    now = server.clock.now()
    later = (datetime.fromtimestamp(now, UTC) + timedelta(hours=6)).strftime("%H:%M")
    room = await community.room(
        "robin",
        ["sam"],
        schedule={  # now, and daily six hours from now
            "timezone": "UTC",
            "weekly": [{"days": list(range(7)), "start": later, "duration_minutes": 60}],
            "one_off": open_now_schedule(now)["one_off"],
        },
    )
    fac, sam = await community.client("robin"), await community.client("sam")
    await fac.join(room.id)
    await sam.join(room.id)
    await fac.request("end_session")
    await sam.wait_for("session_ended")
    with pytest.raises(CommandError) as refused:
        await sam.join(room.id)
    assert refused.value.code == "session_ended"
    assert "next one starts" in refused.value.message
    assert refused.value.frame["detail"]["next_starts_at"]
    with pytest.raises(CommandError) as refused:
        await fac.join(room.id)  # facilitators can't reopen it by accident either
    assert refused.value.code == "session_ended"
    token = community.tokens["sam"]
    async with httpx.AsyncClient(base_url=server.base) as http:
        listed = await http.get(
            f"/api/rooms/{room.id}", headers={"authorization": f"Bearer {token}"}
        )
    assert listed.json()["room"]["open_now"] is False


async def test_signing_out_closes_open_sockets(community: Community, server: LiveServer) -> None:
    """Logging out revokes the token, and a socket opened with it is closed with 4001."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    room = await community.room("robin", ["sam"])
    fac, sam = await community.client("robin"), await community.client("sam")
    await fac.join(room.id)
    await sam.join(room.id)
    async with httpx.AsyncClient(base_url=server.base) as http:
        out = await http.post(
            "/api/auth/logout", headers={"authorization": f"Bearer {community.tokens['sam']}"}
        )
    assert out.status_code == 200
    await sam.wait_disconnected()
    assert sam.close_code == 4001
    away = await fac.wait_for("away")
    assert away["user_id"] == community.users["sam"].id


async def test_leaving_in_one_tab_keeps_the_seat_in_another(community: Community) -> None:
    """Leaving in one of two tabs keeps the member present, and posting, in the other."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    room = await community.room("robin", ["sam"])
    fac = await community.client("robin")
    await fac.join(room.id)
    phone, laptop = await community.client("sam"), await community.client("sam")
    await phone.join(room.id)
    await laptop.join(room.id)
    await laptop.agree()
    await laptop.set_mode("sharer")
    await phone.leave()
    posted = await laptop.post("still here on my laptop")
    seen = await fac.wait_for("message")
    assert seen["seq"] == posted
    assert not [e for e in fac.pending_events() if e["type"] == "left"]
    await laptop.leave()
    left = await fac.wait_for("left")
    assert left["user_id"] == community.users["sam"].id


async def test_mute_durations_are_whole_minutes_in_range(community: Community) -> None:
    """A mute shorter than a minute is refused with the range in the message."""
    await community.person("robin", "Robin", "facilitator")
    sam_user = await community.person("sam", "Sam")
    room = await community.room("robin", ["sam"])
    fac, sam = await community.client("robin"), await community.client("sam")
    await fac.join(room.id)
    await sam.join(room.id)
    with pytest.raises(CommandError) as refused:
        await fac.request("mute", user=sam_user.id, minutes=0.5)
    assert refused.value.code == "invalid"
    assert "between 1 and 1440 minutes" in refused.value.message
