"""Signing out reaches the rooms in order: the device that signed out hears nothing said
after it, at once, while the member's other devices carry on."""

from __future__ import annotations

import httpx
import pytest

from holdspace_client import Client
from holdspace_client.http import login
from tests.live import PASSWORD, Community, LiveServer, bearer

pytestmark = pytest.mark.integration


def texts(client: Client) -> list[str]:
    return [e["text"] for e in client.history if e["type"] == "message"]


# Checks of every socket's sign-in are far apart here: only the sign-out itself can act.
@pytest.mark.server_settings(reauth_seconds=3600)
async def test_a_device_that_signs_out_hears_nothing_said_after(
    community: Community, server: LiveServer
) -> None:
    await community.person("robin", "Robin", "facilitator")
    await community.person("kim", "Kim")
    room = await community.room("robin", ["kim"])
    robin = await community.client("robin")
    phone = await community.client("kim")
    laptop_token = await login(server.base, "kim", PASSWORD)
    laptop = Client(server.ws_url, laptop_token)
    await laptop.connect()
    community.clients.append(laptop)
    for client in (robin, phone, laptop):
        await client.join(room.id)
    before = await robin.post("Before Kim's phone signs out.")
    for client in (phone, laptop):
        await client.wait_for(lambda ev: ev.get("seq") == before)

    async with httpx.AsyncClient(base_url=server.base) as http:
        out = await http.post("/api/auth/logout", headers=bearer(community.tokens["kim"]))
    assert out.status_code == 200
    after = await robin.post("After it.")

    await phone.wait_for("signed_out", timeout=10)
    await phone.wait_disconnected(timeout=10)
    assert phone.close_code == 4001  # for good: the client doesn't reconnect
    assert phone.close_reason == "signed out"
    assert "After it." not in texts(phone)
    await laptop.wait_for(lambda ev: ev.get("seq") == after)
    assert texts(laptop)[-2:] == ["Before Kim's phone signs out.", "After it."]
    assert laptop.close_code is None
