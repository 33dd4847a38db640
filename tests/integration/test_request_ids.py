"""Request ids: a proxy's id (nginx's ``$request_id``) follows a request into the
access log and back out in the response, so the two logs can be matched."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.live import Community, LiveServer, LogCapture

pytestmark = pytest.mark.integration


def access_lines(logs: LogCapture, count: int = 1) -> list[dict[str, object]]:
    """The access log's lines, once ``count`` are there (a line is written after the
    response has gone)."""

    def access(lines: list[str]) -> list[dict[str, object]]:
        parsed = [json.loads(line) for line in lines]
        return [line for line in parsed if line["logger"] == "holdspace.http"]

    logs.wait_for(lambda lines: len(access(lines)) >= count)
    return access(logs.lines)


async def test_the_proxys_request_id_is_logged_and_returned(
    server: LiveServer, logs: LogCapture
) -> None:
    proxy_id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    async with httpx.AsyncClient(base_url=server.base) as http:
        response = await http.get("/api/crisis", headers={"x-request-id": proxy_id})
    assert response.headers["x-request-id"] == proxy_id
    assert [line["request_id"] for line in access_lines(logs)] == [proxy_id]


@pytest.mark.parametrize("sent", [None, "short", "has spaces in it", "x" * 65, "a\u00e9b-c1234"])
async def test_without_a_plausible_id_one_is_made_up(
    server: LiveServer, logs: LogCapture, sent: str | None
) -> None:
    headers = {} if sent is None else {b"x-request-id": sent.encode()}
    async with httpx.AsyncClient(base_url=server.base) as http:
        response = await http.get("/api/crisis", headers=headers)
    made_up = response.headers["x-request-id"]
    assert made_up != sent
    assert len(made_up) == 16
    assert [line["request_id"] for line in access_lines(logs)] == [made_up]


async def test_a_websocket_upgrade_logs_the_proxys_id_with_the_connection(
    community: Community, logs: LogCapture
) -> None:
    await community.person("kim", "Kim")
    client = await community.client("kim")
    assert client.hello is not None
    connected = [
        json.loads(line) for line in logs.lines if json.loads(line)["event"] == "connected"
    ]
    assert len(connected) == 1
    assert len(str(connected[0]["request_id"])) == 16
    assert str(connected[0]["conn"])
