"""A session's life in time, through real sockets: lobby, start, scheduled end."""

from __future__ import annotations

import pytest

from holdspace_client import CommandError
from tests.live import Community, LiveServer, open_now_schedule

pytestmark = pytest.mark.integration


async def test_lobby_opens_the_session_starts_and_ends_on_time(
    community: Community, server: LiveServer
) -> None:
    """Members wait in the lobby, the session starts at its time, and ends at its end for all."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    # Starts in 10 minutes, lasts 30; the lobby opens 15 minutes before.
    room = await community.room(
        "robin", ["sam"], schedule=open_now_schedule(server.clock.now(), -10, 30)
    )
    fac, sam = await community.client("robin"), await community.client("sam")
    view = await sam.join(room.id)
    assert view["session"]["phase"] == "lobby"
    await fac.join(room.id)
    await sam.agree()
    await sam.set_mode("sharer")
    with pytest.raises(CommandError) as refused:
        await sam.post("hello?")
    assert refused.value.code == "not_started"
    await fac.post("Welcome, we'll begin at the top of the hour.")  # facilitators may

    server.clock.advance(10 * 60)
    await sam.wait_for("session_started")
    await fac.wait_for("session_started")
    posted = await sam.post("hello, everyone")
    assert (await fac.wait_for("message"))["seq"] == posted

    server.clock.advance(30 * 60)
    for client in (sam, fac):
        ended = await client.wait_for("session_ended")
        assert ended["by"] is None  # the scheduled end, not a person
    with pytest.raises(CommandError) as refused:
        await sam.post("one more thing")
    assert refused.value.code == "session_ended"
    with pytest.raises(CommandError) as refused:
        await sam.join(room.id)
    assert refused.value.code == "no_session"
    assert await server.call(server.services.sessions.hub.live_sessions()) == []
    assert sam.close_code is None  # the socket stays open, in no room
