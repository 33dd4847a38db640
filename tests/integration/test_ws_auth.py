"""Who may open a room socket: the auth frame, the session cookie, Origin, timeouts."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from holdspace.protocol import PROTOCOL_VERSION, CloseCode
from holdspace.web.ws import COOKIE
from tests.live import Community, LiveServer, LogCapture

pytestmark = pytest.mark.integration

EVIL = "https://evil.example"


def connect(url: str, headers: dict[str, str] | None = None) -> websockets.connect:
    return websockets.connect(url, additional_headers=headers or {}, compression=None)


async def closed_with(ws: ClientConnection, timeout: float = 10.0) -> int | None:
    """Wait for the server to close ``ws`` without sending anything first; its close code."""
    try:
        frame = await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed:
        return ws.close_code
    pytest.fail(f"the server sent {frame!r} before closing")


async def hello_after_auth(ws: ClientConnection, token: str) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "auth", "token": token}))
    hello: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return hello


async def test_no_auth_frame_closes_with_4002_after_the_timeout(server: LiveServer) -> None:
    """A socket that never authenticates is closed with 4002 once auth_timeout_seconds pass."""
    limit = server.settings.auth_timeout_seconds
    assert limit == 2.0
    async with connect(server.ws_url) as ws:
        started = time.monotonic()
        code = await closed_with(ws, timeout=limit + 5)
        elapsed = time.monotonic() - started
    assert code == CloseCode.AUTH_TIMEOUT == 4002
    assert limit - 0.5 <= elapsed <= limit + 3


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "auth", "token": "not-a-real-token"},
        {"type": "auth", "token": ""},
        {"type": "auth", "token": "x" * 10_000},
        {"type": "auth"},
        {"type": "ping"},
        {"type": "join", "room": "room_0000000000000000"},
        "not json at all",
    ],
)
async def test_a_bad_first_frame_closes_with_4001(
    community: Community, server: LiveServer, frame: dict[str, Any] | str
) -> None:
    """A wrong token, or any first frame that is not a valid `auth`, is closed with 4001."""
    await community.person("sam", "Sam")
    async with connect(server.ws_url) as ws:
        await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
        assert await closed_with(ws) == CloseCode.AUTH_FAILED == 4001


async def test_a_real_token_after_another_first_frame_is_too_late(
    community: Community, server: LiveServer
) -> None:
    """Auth must be the first frame: a valid token sent second never gets a hello."""
    await community.person("sam", "Sam")
    async with connect(server.ws_url) as ws:
        await ws.send(json.dumps({"type": "ping", "id": 1}))
        await ws.send(json.dumps({"type": "auth", "token": community.tokens["sam"]}))
        assert await closed_with(ws) == 4001


async def test_a_logged_out_token_is_refused(community: Community, server: LiveServer) -> None:
    """After logout the token no longer opens a socket (4001)."""
    await community.person("sam", "Sam")
    token = community.tokens["sam"]
    async with connect(server.ws_url) as ws:
        assert (await hello_after_auth(ws, token))["type"] == "hello"
    async with httpx.AsyncClient(base_url=server.base) as http:
        out = await http.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
        assert out.status_code == 200
    async with connect(server.ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        assert await closed_with(ws) == 4001


async def test_an_expired_token_is_refused(community: Community, server: LiveServer) -> None:
    """A token past token_ttl_hours no longer opens a socket (4001)."""
    await community.person("sam", "Sam")
    server.clock.advance(server.settings.token_ttl_hours * 3600 + 1)
    async with connect(server.ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": community.tokens["sam"]}))
        assert await closed_with(ws) == 4001


async def test_hello_names_the_protocol_and_the_user(
    community: Community, server: LiveServer
) -> None:
    """After a valid auth frame the first frame is `hello` with the protocol and who you are."""
    robin = await community.person("robin", "Robin", "facilitator")
    async with connect(server.ws_url) as ws:
        hello = await hello_after_auth(ws, community.tokens["robin"])
    assert hello == {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "user": {"id": robin.id, "name": robin.display_name, "role": "facilitator"},
    }


@pytest.mark.parametrize("path", ["/wss", "/ws/", "/api/ws", "/"])
async def test_upgrades_anywhere_but_the_endpoint_are_refused(
    community: Community, server: LiveServer, path: str
) -> None:
    """Only ``/ws`` is a WebSocket endpoint: an upgrade elsewhere gets HTTP 403, even
    with a valid session cookie."""
    await community.person("sam", "Sam")
    url = server.ws_url.removesuffix("/ws") + path
    cookie = f"{COOKIE}={community.tokens['sam']}"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, {"Cookie": cookie}) as ws:
            pytest.fail(f"the upgrade was accepted: {await ws.recv()!r}")
    assert refused.value.response.status_code == 403


async def test_the_session_cookie_authenticates_from_an_allowed_origin(
    community: Community, server: LiveServer
) -> None:
    """The session cookie from one of our own pages gets `hello` with no auth frame."""
    sam = await community.person("sam", "Sam")
    cookie = f"{COOKIE}={community.tokens['sam']}"
    for origin in sorted(server.settings.origins):
        async with connect(server.ws_url, {"Cookie": cookie, "Origin": origin}) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert hello["type"] == "hello", origin
            assert hello["protocol"] == PROTOCOL_VERSION
            assert hello["user"] == {"id": sam.id, "name": "Sam", "role": "member"}
            await ws.send(json.dumps({"type": "ping", "id": 1}))
            pong = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert pong == {"type": "pong", "id": 1}
    assert server.base in server.settings.origins


@pytest.mark.parametrize("origin", [EVIL, "null", "http://127.0.0.1.evil.example"])
async def test_the_session_cookie_from_a_foreign_origin_is_refused_at_the_upgrade(
    community: Community, server: LiveServer, logs: LogCapture, origin: str
) -> None:
    """A cookie-bearing upgrade from another site is refused with HTTP 403 and never says hello."""
    await community.person("sam", "Sam")
    cookie = f"{COOKIE}={community.tokens['sam']}"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url, {"Cookie": cookie, "Origin": origin}) as ws:
            pytest.fail(f"the upgrade was accepted: {await ws.recv()!r}")
    assert refused.value.response.status_code == 403
    assert b"hello" not in refused.value.response.body
    assert '"reason": "origin"' in logs.text()
    assert '"event": "connected"' not in logs.text()


async def test_a_foreign_origin_is_refused_even_with_an_auth_frame(
    community: Community, server: LiveServer
) -> None:
    """A page on another site cannot open a socket at all, even planning to send a token."""
    await community.person("sam", "Sam")
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url, {"Origin": EVIL}) as ws:
            pytest.fail(f"the upgrade was accepted: {await hello_after_auth(ws, 'x')!r}")
    assert refused.value.response.status_code == 403


async def test_a_token_in_the_query_string_is_ignored_and_never_logged(
    community: Community, server: LiveServer, logs: LogCapture
) -> None:
    """`/ws?token=…` does not authenticate (the socket still waits for `auth`), and the token
    appears in no server log line."""
    await community.person("sam", "Sam")
    token = community.tokens["sam"]
    async with connect(f"{server.ws_url}?token={token}") as ws:
        assert await closed_with(ws) == 4002
    async with connect(f"{server.ws_url}?token={token}&access_token={token}") as ws:
        await ws.send(json.dumps({"type": "ping", "id": 1}))
        assert await closed_with(ws) == 4001
    async with httpx.AsyncClient(base_url=server.base) as http:
        me = await http.get("/api/auth/me", params={"token": token, "access_token": token})
        assert me.status_code == 401
    text = logs.text()
    assert '"path": "/api/auth/me"' in text  # the capture saw the server's lines
    assert '"reason": "auth"' in text
    assert token not in text
