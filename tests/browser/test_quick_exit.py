"""Leaving quickly: the first control in keyboard order, or Escape twice, takes a member
out of the room to an everyday page, in place of the app's own page and history entry,
and nothing on the way names the group."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Route, ViewportSize, expect

from tests.browser.conftest import DESKTOP, PHONE, Person, sign_in
from tests.live import Community, LiveServer

pytestmark = pytest.mark.integration

NEUTRAL = "<!doctype html><title>Google</title><p>Search</p>"


async def neutral_page(route: Route) -> None:
    """The machine has no internet: the everyday page is served here, as it would be."""
    await route.fulfill(status=200, content_type="text/html", body=NEUTRAL)


@pytest.mark.parametrize("how", ["button", "escape twice"])
@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["360x740", "1280x800"])
async def test_leaving_quickly_leaves_no_trace_of_the_group(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    how: str,
    size: ViewportSize,
) -> None:
    await community.person("robin", "Robin", "facilitator")
    await community.person("kim", "Kim")
    await community.room("robin", ["kim"], name="Domestic abuse survivors")
    robin = await sign_in(browser, server, people, "robin", DESKTOP)
    await robin.page.get_by_role("link", name="Join Domestic abuse survivors").click()
    kim = await sign_in(browser, server, people, "kim", size)
    await kim.context.route(re.compile(r"^https://www\.google\.com/"), neutral_page)
    page = kim.page

    # First in keyboard order, on every screen.
    leave_quickly = page.get_by_role("button", name="Leave quickly")
    await page.keyboard.press("Tab")
    await expect(leave_quickly).to_be_focused()
    await page.get_by_role("link", name="Join Domestic abuse survivors").click()
    await expect(page.get_by_role("heading", name="Before you join")).to_be_visible()
    await page.keyboard.press("Tab")
    await expect(leave_quickly).to_be_focused()
    await page.get_by_role("button", name="I agree — Just listen").click()
    await expect(robin.page.locator(".people")).to_contain_text("Kim")
    assert "Domestic" not in await page.title()  # the tab never names the group

    if how == "button":
        await page.get_by_role("button", name="Leave quickly").click()
    else:
        await page.get_by_label("Your message").focus()
        await page.keyboard.press("Escape")
        await page.keyboard.press("Escape")
    await page.wait_for_url("https://www.google.com/")
    await expect(page).to_have_title("Google")
    # She left the room (not merely dropped off: nobody waits for her to come back).
    await expect(robin.page.locator(".people")).not_to_contain_text("Kim")
    # Back leads away from the app, never into the group.
    await page.go_back()
    assert "#/room" not in page.url
    assert "Domestic" not in await page.content()
