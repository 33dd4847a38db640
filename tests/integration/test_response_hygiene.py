"""What a browser and anything between it and us may keep: API answers are never
cached; over HTTPS the session cookie is ``__Host-`` and browsers are told to stay on
HTTPS."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from holdspace.web.headers import SecurityHeaders
from holdspace.web.ws import COOKIE, SECURE_COOKIE
from tests.live import PASSWORD, Community, LiveServer

pytestmark = pytest.mark.integration


async def test_api_answers_are_never_stored_and_plain_http_gets_no_hsts(
    community: Community, server: LiveServer
) -> None:
    await community.person("sam", "Sam")
    async with httpx.AsyncClient(base_url=server.base) as http:
        me = await http.get(
            "/api/auth/me", headers={"authorization": f"Bearer {community.tokens['sam']}"}
        )
        refused = await http.get("/api/rooms")  # an error answer too
        page = await http.get("/")
    assert me.headers["cache-control"] == "no-store"
    assert refused.status_code == 401
    assert refused.headers["cache-control"] == "no-store"
    assert page.headers["cache-control"] == "no-cache"  # the app's page: revalidated
    assert "strict-transport-security" not in me.headers


async def test_over_https_browsers_are_told_to_stay_on_https() -> None:
    async def hello(scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse({"ok": True})(scope, receive, send)

    app = SecurityHeaders(hello)
    transport = httpx.ASGITransport(app=app)
    for base, hsts in [("https://holdspace.example", True), ("http://holdspace.example", False)]:
        async with httpx.AsyncClient(transport=transport, base_url=base) as http:
            answer = await http.get("/api/ping")
        assert ("strict-transport-security" in answer.headers) is hsts, base
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.server_settings(cookie_secure=True)
async def test_a_secure_server_sets_and_reads_only_the_host_prefixed_cookie(
    community: Community, server: LiveServer
) -> None:
    await community.person("sam", "Sam")
    async with httpx.AsyncClient(base_url=server.base) as http:
        signed_in = await http.post(
            "/api/auth/login", json={"username": "sam", "password": PASSWORD}
        )
    assert signed_in.status_code == 200
    set_cookie = signed_in.headers["set-cookie"]
    name, _, rest = set_cookie.partition("=")
    assert name == SECURE_COOKIE
    token, _, attributes = rest.partition(";")
    flags = {a.strip().split("=")[0].lower() for a in attributes.split(";")}
    assert {"secure", "httponly", "path"} <= flags
    assert "domain" not in flags
    assert "path=/" in attributes.lower().replace(" ", "")

    async with websockets.connect(
        server.ws_url, additional_headers={"Cookie": f"{SECURE_COOKIE}={token}"}
    ) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert hello["type"] == "hello"
    # The unprefixed name is not read here: it could have been planted by another site
    # under the same domain. The socket waits for an auth frame, and closes without one.
    async with websockets.connect(
        server.ws_url, additional_headers={"Cookie": f"{COOKIE}={token}"}
    ) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4002  # authentication timed out: no hello
