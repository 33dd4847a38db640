"""A room whose WebSocket the server refuses to open (a foreign Origin: HTTP 403). A
browser sees only a lost connection (1006), so the page asks the HTTP API why: signed
out means stop and say so; otherwise it keeps trying, and says the room is hard to reach."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from holdspace.clock import ManualClock
from tests.browser.conftest import PHONE
from tests.live import Community, LiveServer

pytestmark = pytest.mark.integration


@pytest.fixture
def refusing(tmp_path: Path, clock: ManualClock) -> Iterator[LiveServer]:
    """A server that opens WebSockets only for another site's pages."""
    live = LiveServer(tmp_path / "data", clock, allowed_origins=("https://elsewhere.example",))
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.parametrize("signed_out", [False, True], ids=["signed-in", "signed-out"])
async def test_a_refused_room_is_explained_not_retried_blindly(
    browser: Browser, refusing: LiveServer, signed_out: bool
) -> None:
    community = Community(refusing)
    await community.person("robin", "Robin", "facilitator")
    await community.person("kim", "Kim")
    await community.room("robin", ["kim"], name="Evening circle")
    context = await browser.new_context(viewport=PHONE)
    try:
        # Signing in posts from this page, which the server refuses too: the browser
        # gets the session cookie the way a page on the allowed site would have.
        token = community.tokens["kim"]
        await context.add_cookies(
            [{"name": "holdspace_session", "value": token, "url": refusing.base}]
        )
        page = await context.new_page()
        await page.goto(refusing.base + "/#/groups")
        await expect(page.get_by_role("heading", name="My groups")).to_be_visible()
        if signed_out:
            await refusing.call(refusing.services.accounts.logout(token))
        await page.get_by_role("link", name="Join Evening circle").click()
        if signed_out:
            await expect(page.get_by_role("alert")).to_have_text(
                "You've been signed out. Please sign in again.", timeout=15_000
            )
        else:
            await expect(page.locator(".conn")).to_have_text(
                "Can't reach the room — still trying", timeout=15_000
            )
    finally:
        await context.close()
        await community.close()
