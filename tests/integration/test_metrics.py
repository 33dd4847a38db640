"""/metrics: what an operator's Prometheus reads, counted as it happens, and nothing
about who or which room."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from holdspace_client import CommandError
from tests.live import Community, LiveServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.server_settings(
        post_burst=2, posts_per_minute=1.0
    ),  # two at once, then one a minute
]


async def scrape(server: LiveServer) -> tuple[str, dict[str, float]]:
    async with httpx.AsyncClient(base_url=server.base) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return response.text, values


async def test_a_session_shows_up_in_the_counts(community: Community, server: LiveServer) -> None:
    _, before = await scrape(server)
    assert before["holdspace_connections"] == 0
    await community.person("robin", "Robin Sentinelname", "facilitator")
    await community.person("kim", "Kim Sentinelname")
    room = await community.room("robin", ["kim"])
    robin = await community.client("robin")
    await robin.join(room.id)
    kim = await community.client("kim")
    await kim.join(room.id)
    await kim.agree()
    await kim.set_mode("sharer")
    await kim.post("sentinel words one")
    await kim.post("sentinel words two")
    with pytest.raises(CommandError):
        await kim.post("three is too fast")
    await robin.wait_for(lambda ev: ev.get("text") == "sentinel words two")

    text, after = await scrape(server)
    assert after["holdspace_connections"] == 2
    assert after["holdspace_live_sessions"] == 1
    published = after["holdspace_events_published_total"]
    assert published >= 2 + 2  # the two posts, and at least the joins before them
    # Every published event reaches both members, and no frame is counted twice: the
    # events, and the two notices that told Kim she may post (after agreeing, after
    # choosing to share), each handed to both connections.
    assert published <= after["holdspace_deliveries_total"] <= 2 * (published + 2)
    assert after["holdspace_rate_limited_total{surface=websocket}"] == 1
    assert after["holdspace_rate_limited_total{surface=http}"] == 0
    assert after["holdspace_slow_consumer_disconnects_total"] == 0
    assert after["holdspace_unavailable_total{surface=websocket}"] == 0
    for secret in ("Sentinelname", "sentinel words", room.id, community.tokens["kim"]):
        assert secret not in text
    for user in community.users.values():
        assert user.id not in text


async def test_too_many_sign_ins_count_as_rate_limited_requests(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.base) as http:
        statuses = [
            (
                await http.post(
                    "/api/auth/login", json={"username": "nobody", "password": "wrong guess"}
                )
            ).status_code
            for _ in range(30)
        ]
    limited = statuses.count(429)
    assert limited > 0
    _, values = await scrape(server)
    assert values["holdspace_rate_limited_total{surface=http}"] == limited
