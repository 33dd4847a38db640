"""One socket more than an account may keep (HOLDSPACE_SOCKETS_PER_ACCOUNT) closes the
account's oldest with 4010. The page that had it says, without alarm, that Holdspace is
open elsewhere; it doesn't reconnect by itself (that would close the newer socket, which
would do the same), and it continues here when the member asks."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import PHONE, Person, axe_check, screenshot, sign_in
from tests.live import Community, LiveServer

pytestmark = [pytest.mark.integration, pytest.mark.server_settings(sockets_per_account=1)]


async def test_a_tab_another_device_replaced_steps_aside_until_asked(
    browser: Browser, server: LiveServer, community: Community, people: list[Person]
) -> None:
    await community.person("robin", "Robin", "facilitator")
    await community.person("kim", "Kim")
    await community.room("robin", ["kim"], name="Evening circle")
    kim = await sign_in(browser, server, people, "kim", PHONE)
    await kim.page.get_by_role("link", name="Join Evening circle").click()
    await expect(kim.page.get_by_role("heading", name="Before you join")).to_be_visible()

    phone = await community.client("kim")  # the page's socket is now the account's oldest
    await expect(kim.page.get_by_role("heading", name="Open somewhere else")).to_be_visible()
    await expect(kim.page.get_by_role("status").filter(has_text="another tab")).to_have_text(
        "Holdspace is open in another tab or on another device, so this tab stepped aside."
    )
    await expect(kim.page.locator(".conn")).to_be_hidden()  # not "Reconnecting…": it isn't
    await axe_check(kim.page, "opened elsewhere")
    await screenshot(kim.page, "opened-elsewhere-360")
    # Longer than the page's first reconnect would take (0.5 s): had it come back by
    # itself, the phone's socket would have been closed in its turn.
    await kim.page.wait_for_timeout(1500)
    await phone.request("ping")
    assert phone.close_code is None

    await kim.page.get_by_role("button", name="Use it here").click()
    await expect(kim.page.get_by_role("heading", name="Before you join")).to_be_visible()
    await phone.wait_disconnected()
    assert phone.close_code == 4010
    before_signing_in = f"status of 401 (Unauthorized) ({server.base}/api/auth/me)"
    errors = kim.console.unexpected([before_signing_in])
    assert not errors, "console errors:\n" + "\n".join(errors)
