"""The facilitator's side in a real browser — the waiting room, hands, whispers, the
door — and the app's promises about accessibility and security."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Person,
    axe_check,
    dialog_submit,
    screenshot,
    sign_in,
)
from tests.live import Community, LiveServer

pytestmark = pytest.mark.integration

STATIC = Path(__file__).parents[2] / "client" / "holdspace_web" / "static"


async def test_the_waiting_room_hands_and_whispers(
    browser: Browser, server: LiveServer, community: Community, people: list[Person]
) -> None:
    await community.person("robin", "Robin", "facilitator")
    await community.person("kim", "Kim")
    await community.room("robin", ["kim"], name="Tuesday group", waiting_room=True)
    robin = await sign_in(browser, server, people, "robin", DESKTOP)
    await robin.page.get_by_role("link", name="Join Tuesday group").click()
    await expect(robin.page.get_by_role("heading", name="Facilitator tools")).to_be_visible()

    kim = await sign_in(browser, server, people, "kim", PHONE)
    await kim.page.get_by_role("link", name="Join Tuesday group").click()
    await expect(kim.page.get_by_role("heading", name="Please wait a moment")).to_be_visible()
    await axe_check(kim.page, "waiting room")
    waiting = robin.page.get_by_role("heading", name=re.compile("Waiting to come in"))
    await expect(waiting).to_be_visible()
    await robin.page.get_by_role("button", name="Admit Kim").click()
    await expect(kim.page.get_by_role("heading", name="Before you join")).to_be_visible()
    await kim.page.get_by_role("button", name="I agree — Just listen").click()

    await kim.page.get_by_role("button", name="Raise hand").click()
    await expect(robin.page.locator(".people")).to_contain_text("hand raised (1)")
    await robin.page.get_by_role("button", name="Give the floor to Kim").click()
    await expect(kim.page.get_by_role("button", name="Raise hand")).to_be_visible()

    await kim.page.get_by_role("button", name="Whisper to facilitators").click()
    await dialog_submit(kim.page, "Send whisper", Your_whisper="Could we slow down a little?")
    whispers = robin.page.locator(".whispers")
    await expect(whispers).to_contain_text("Could we slow down a little?")
    await expect(kim.page.locator(".messages")).not_to_contain_text("slow down")

    await robin.page.get_by_role("button", name="Lock the door").click()
    await expect(kim.page.locator(".banner")).to_contain_text("closed to new arrivals")
    await robin.page.get_by_role("button", name="Participation balance").click()
    balance = robin.page.get_by_role("dialog", name="Participation balance")
    await expect(balance).to_contain_text("Kim")
    await axe_check(robin.page, "balance dialog")
    await balance.get_by_role("button", name="Close").click()

    await robin.page.get_by_role("button", name="End the session…").click()
    await dialog_submit(robin.page, "End the session")
    await expect(kim.page.get_by_role("heading", name="Take care")).to_be_visible()


async def test_creating_a_group_and_signing_up(
    browser: Browser, server: LiveServer, community: Community, people: list[Person]
) -> None:
    """A facilitator creates a weekly group from the browser; a newcomer signs up."""
    await community.person("robin", "Robin", "facilitator")
    robin = await sign_in(browser, server, people, "robin", DESKTOP)
    await robin.page.get_by_role("link", name="Create a group").click()
    await expect(robin.page.get_by_role("heading", name="Create a group")).to_be_visible()
    await axe_check(robin.page, "create a group")
    await robin.page.get_by_label("Name", exact=True).fill("Grief circle")
    await robin.page.get_by_label("Time zone").fill("Europe/London")
    await robin.page.get_by_label("Monday").check()
    await robin.page.get_by_label("Thursday").check()
    await robin.page.get_by_label("Starting at").fill("18:30")
    await robin.page.get_by_role("button", name="Create the group").click()
    await expect(robin.page.get_by_role("heading", name="Grief circle: settings")).to_be_visible()
    await robin.page.get_by_role("link", name="Back to my groups").click()
    await expect(robin.page.locator(".group", has_text="Grief circle")).to_contain_text("Next:")

    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    people.append(Person(context, page, robin.console))
    await page.goto(server.base + "/#/signup")
    await expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    await axe_check(page, "sign up")
    await page.get_by_label("Username").fill("newcomer")
    await page.get_by_label("Display name").fill("Ash")
    await page.get_by_label("Password").fill("a long enough password")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="My groups")).to_be_visible()
    await expect(page.get_by_text("You're not in any groups yet")).to_be_visible()
    await page.get_by_role("button", name="Crisis support").click()
    await expect(page.get_by_role("dialog", name="Crisis support")).to_contain_text("crisis")


async def test_zoom_dark_mode_and_keyboard(
    browser: Browser, server: LiveServer, community: Community, people: list[Person]
) -> None:
    """200 % zoom (a 1280 px window laid out at 640 CSS px) reflows without sideways
    scrolling; dark mode keeps AA contrast; everything works from the keyboard."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("kim", "Kim")
    await community.room("robin", ["kim"], name="Evening circle")
    robin = await sign_in(browser, server, people, "robin", DESKTOP)
    await robin.page.get_by_role("link", name="Join Evening circle").click()

    context = await browser.new_context(
        viewport={"width": 640, "height": 430}, color_scheme="dark", reduced_motion="reduce"
    )
    page = await context.new_page()
    people.append(Person(context, page, robin.console))
    await page.goto(server.base + "/")
    # Sign in with the keyboard only.
    await expect(page.get_by_label("Username")).to_be_focused()
    await page.keyboard.type("kim")
    await page.keyboard.press("Tab")
    await page.keyboard.type("correct horse battery")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="My groups")).to_be_visible()
    cookies = await context.cookies()
    session = next(c for c in cookies if c["name"] == "holdspace_session")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert await page.evaluate("() => localStorage.length + sessionStorage.length") == 0

    join = page.get_by_role("link", name="Join Evening circle")
    await join.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="I agree — I'd like to share")).to_be_visible()
    await page.get_by_role("button", name="I agree — I'd like to share").focus()
    await page.keyboard.press("Enter")
    await page.get_by_label("Your message").focus()
    await page.keyboard.type("Typed with the keyboard alone.")
    await page.keyboard.press("Tab")  # the content warning
    await page.keyboard.press("Tab")  # Send
    await page.keyboard.press("Enter")
    await expect(robin.page.locator(".messages")).to_contain_text("Typed with the keyboard alone.")

    overflow = await page.evaluate(
        "() => document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )
    assert overflow <= 0, f"{overflow}px of sideways scrolling at 200% zoom"
    await axe_check(page, "room, dark, 200% zoom")
    await screenshot(page, "room-dark-zoom")


def test_user_content_never_becomes_markup() -> None:
    """No code path in the app parses strings as HTML."""
    sinks = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function"
    )
    for path in STATIC.rglob("*.js"):
        found = sinks.findall(path.read_text(encoding="utf-8"))
        assert not found, f"{path.name}: {found}"
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in html  # inline scripts would break the policy anyway
    assert ' style="' not in html
