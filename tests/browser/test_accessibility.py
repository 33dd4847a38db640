"""Every screen, checked by axe-core for violations of any impact: on a phone, on a
desktop and at 200 % zoom, in the light scheme and the dark one."""

from __future__ import annotations

from typing import Literal

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    ZOOMED,
    Person,
    axe_check,
    close_panel,
    dialog_submit,
    open_panel,
    sign_in,
    watch_console,
)
from tests.live import Community, LiveServer

pytestmark = pytest.mark.integration

VARIANTS = [
    pytest.param(size, scheme, id=f"{name}-{scheme}")
    for name, size in (("360x740", PHONE), ("1280x800", DESKTOP), ("zoom200", ZOOMED))
    for scheme in ("light", "dark")
]


@pytest.mark.parametrize(("size", "scheme"), VARIANTS)
async def test_every_screen_has_no_accessibility_violations(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    size: dict[str, int],
    scheme: Literal["light", "dark"],
) -> None:
    await community.person("robin", "Robin", "facilitator")
    await community.person("kim", "Kim")
    await community.person("dee", "Dee")
    await community.person("twin", "R0BIN")
    await community.room("robin", ["kim", "dee", "twin"], name="Evening circle")

    # Signing in and up, before anyone is known.
    context = await browser.new_context(viewport=size, color_scheme=scheme)  # type: ignore[arg-type]
    page = await context.new_page()
    people.append(Person(context, page, watch_console(page)))
    await page.goto(server.base + "/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await axe_check(page, "sign in")
    await page.get_by_role("link", name="Create an account").click()
    await expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    await page.get_by_label("Display name").fill("Moderator Me")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("alert")).not_to_be_empty()
    await axe_check(page, "sign up, refused")

    robin = await sign_in(browser, server, people, "robin", size, scheme)  # type: ignore[arg-type]
    await axe_check(robin.page, "my groups")
    await robin.page.get_by_role("link", name="Create a group").click()
    await expect(robin.page.get_by_role("heading", name="Create a group")).to_be_visible()
    await axe_check(robin.page, "create a group")
    await robin.page.get_by_role("link", name="Back to my groups").click()
    await robin.page.get_by_role("link", name="Join Evening circle").click()
    await expect(robin.page.locator(".dock")).to_be_visible()
    await axe_check(robin.page, "room, facilitator, empty")

    kim = await sign_in(browser, server, people, "kim", size, scheme)  # type: ignore[arg-type]
    await kim.page.get_by_role("link", name="Join Evening circle").click()
    await expect(kim.page.get_by_role("heading", name="Before you join")).to_be_visible()
    await axe_check(kim.page, "welcome")
    await kim.page.get_by_role("button", name="I agree — I'd like to share").click()
    box = kim.page.get_by_label("Your message")
    await box.fill("Arriving tired, but here. <3")
    await box.press("Enter")
    await robin.page.get_by_label("Your message").fill("Welcome, Kim.")
    await robin.page.get_by_label("Your message").press("Enter")
    welcome = kim.messages("Welcome, Kim.")
    await welcome.get_by_role("button", name="React").click()
    await welcome.get_by_role("button", name="Heart").click()
    await expect(welcome.locator(".chip")).to_have_text("Heart 1")
    await box.fill("y" * 2100)
    await expect(kim.page.locator("#compose-count")).to_contain_text("over the limit")
    await axe_check(kim.page, "room, member, reacting, over the limit")
    await box.fill("")

    await kim.page.get_by_role("button", name="I need a moment").click()
    alert = robin.page.locator(".toast", has_text="Kim needs a moment")
    await expect(alert).to_be_visible()
    await axe_check(robin.page, "room, facilitator, a whisper's alert")
    await alert.get_by_role("button", name="Reply").click()
    await expect(robin.page.get_by_role("dialog")).to_be_visible()
    await axe_check(robin.page, "reply dialog")
    await dialog_submit(robin.page, "Send privately", Your_reply="We're here.")
    await expect(kim.page.locator(".toast", has_text="We're here.")).to_be_visible()
    await axe_check(kim.page, "room, member, a private answer")

    await open_panel(robin.page)
    await robin.page.get_by_role("button", name="Kim: Actions").click()
    await axe_check(robin.page, "group panel, facilitator, a person's tools")
    await robin.page.get_by_role("button", name="Start a round…").click()
    await axe_check(robin.page, "start a round dialog")
    await dialog_submit(robin.page, "Start")
    await close_panel(robin.page)
    turn = kim.page.get_by_role("region", name="It's your turn")
    await expect(turn).to_be_visible()
    await axe_check(kim.page, "room, your turn")
    await open_panel(kim.page)
    await axe_check(kim.page, "group panel, member, during a round")
    await close_panel(kim.page)
    await turn.get_by_role("button", name="Done", exact=True).click()

    await kim.page.get_by_role("button", name="Crisis support").click()
    await expect(kim.page.get_by_role("dialog", name="Crisis support")).to_be_visible()
    await axe_check(kim.page, "crisis support")
    await kim.page.get_by_role("dialog").get_by_role("button", name="Close").click()

    # The waiting room, turned on from the room; someone waits; someone can't join as is.
    await open_panel(robin.page)
    await robin.page.get_by_role("switch", name="Waiting room").click()
    await close_panel(robin.page)
    dee = await sign_in(browser, server, people, "dee", size, scheme)  # type: ignore[arg-type]
    await dee.page.get_by_role("link", name="Join Evening circle").click()
    await expect(dee.page.get_by_role("heading", name="Please wait a moment")).to_be_visible()
    await axe_check(dee.page, "waiting room")
    await expect(robin.page.locator(".toast", has_text="Dee is waiting")).to_be_visible()
    await axe_check(robin.page, "room, facilitator, an arrival")
    twin = await sign_in(browser, server, people, "twin", size, scheme)  # type: ignore[arg-type]
    await twin.page.get_by_role("link", name="Join Evening circle").click()
    await expect(twin.page.get_by_role("heading", name="Choose another name")).to_be_visible()
    await axe_check(twin.page, "choose another name")

    # The end: a farewell for members, a summary for the facilitator, then the record.
    await open_panel(robin.page)
    await robin.page.get_by_role("button", name="End the session…").click()
    await dialog_submit(robin.page, "End the session")
    await expect(kim.page.get_by_role("heading", name="Take care")).to_be_visible()
    await axe_check(kim.page, "farewell")
    summary = robin.page.get_by_role("region", name="Session summary")
    await expect(summary).to_be_visible()
    await axe_check(robin.page, "farewell, with the summary")
    await summary.get_by_role("link", name="Group settings and record").click()
    await expect(robin.page.locator(".record .run")).not_to_have_count(0)
    await axe_check(robin.page, "group settings and record")
