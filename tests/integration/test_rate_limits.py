"""An operator's post limits reach every room's rules."""

from __future__ import annotations

import pytest

from holdspace_client import CommandError
from tests.live import Community, LiveServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.server_settings(
        post_burst=2, posts_per_minute=1.0
    ),  # two at once, then one a minute
]


async def test_the_configured_post_limit_applies(community: Community, server: LiveServer) -> None:
    await community.person("robin", "Robin", "facilitator")
    await community.person("kim", "Kim")
    room = await community.room("robin", ["kim"])
    robin = await community.client("robin")
    await robin.join(room.id)
    kim = await community.client("kim")
    await kim.join(room.id)
    await kim.agree()
    await kim.set_mode("sharer")
    await kim.post("one")
    await kim.post("two")
    with pytest.raises(CommandError) as limited:
        await kim.post("three")
    assert limited.value.code == "rate_limited"
    assert limited.value.frame["detail"]["retry_after"] == 60
    server.clock.advance(60)
    await kim.post("three, a minute later")
    for i in range(5):
        await robin.post(f"facilitators aren't limited {i}")
