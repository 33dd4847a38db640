"""Take the README's and docs/screenshots' pictures of the web app, afresh.

Runs a real Holdspace on a loopback port, a session with a facilitator and three
members in Debian's Chromium (through Playwright, as the browser tests do), and saves
each main screen at phone size (360×740) and desktop size (1280×800) into
docs/screenshots/. Needs the test tools: `make install-test` (or `make test`) first.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live import PASSWORD, Community, LiveServer  # noqa: E402

from holdspace.clock import ManualClock  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
RESOURCES = (
    "Holdspace is not a crisis service. If you are in danger, call your local emergency "
    "number now. Samaritans (UK and Ireland): call 116 123, any time, or visit "
    "https://www.samaritans.org. In the US and Canada: call or text 988."
)


async def person(
    browser: Browser, server: LiveServer, username: str, size: ViewportSize, dark: bool = False
) -> Page:
    context = await browser.new_context(viewport=size, color_scheme="dark" if dark else "light")
    page = await context.new_page()
    await page.goto(server.base + "/")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="My groups")).to_be_visible()
    return page


async def say(page: Page, text: str) -> None:
    box = page.get_by_label("Your message")
    await box.fill(text)
    await box.press("Enter")
    await expect(box).to_have_value("")


async def shot(page: Page, name: str) -> None:
    await page.mouse.move(0, 0)  # no hover highlights
    await page.screenshot(path=OUT / f"{name}.png")
    print(f"docs/screenshots/{name}.png")


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    server = LiveServer(Path(tempfile.mkdtemp()) / "data", ManualClock(time.time()))
    server.start()
    community = Community(server)
    try:
        await community.person("robin", "Robin", "facilitator")
        for username, name in (("sam", "Sam"), ("alex", "Alex"), ("kim", "Kim")):
            await community.person(username, name)
        await community.room(
            "robin", ["sam", "alex", "kim"], name="Thursday grief circle",
            description="For anyone who has lost someone. We meet on Thursdays.",
            crisis_resources=RESOURCES,
        )  # fmt: skip
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox"]
            )
            robin = await person(browser, server, "robin", DESKTOP)
            await robin.get_by_role("link", name="Join Thursday grief circle").click()
            await expect(robin.locator(".dock")).to_be_visible()

            sam = await person(browser, server, "sam", PHONE)
            await shot(sam, "groups-360")
            await sam.get_by_role("link", name="Join Thursday grief circle").click()
            await expect(sam.get_by_role("heading", name="Before you join")).to_be_visible()
            await shot(sam, "welcome-360")
            await sam.get_by_role("button", name="I agree — I'd like to share").click()
            alex = await person(browser, server, "alex", DESKTOP)
            await alex.get_by_role("link", name="Join Thursday grief circle").click()
            await shot(alex, "welcome-desktop")
            await alex.get_by_role("button", name="I agree — I'd like to share").click()
            kim = await person(browser, server, "kim", PHONE, dark=True)
            await kim.get_by_role("link", name="Join Thursday grief circle").click()
            await kim.get_by_role("button", name="I agree — Just listen").click()

            await say(robin, "Welcome, everyone. Take a breath; you can always just listen.")
            await say(sam, "Hi all. First time here <3 a bit nervous.")
            await say(sam, "It's been three months since Mum died.")
            await say(alex, "Welcome, Sam. I remember my first time. sending <hugs>")
            first = kim.locator(".messages li.message", has_text="three months")
            await first.get_by_role("button", name="React").click()
            await first.get_by_role("button", name="Heart").click()
            await first.get_by_role("button", name="React").click()
            await shot(sam, "room-360")
            await shot(kim, "room-360-dark")

            await robin.get_by_role("button", name="Start a round…").click()
            dialog = robin.get_by_role("dialog")
            await dialog.get_by_label("Prompt").fill("What are you carrying tonight?")
            await dialog.get_by_role("button", name="Start").click()
            await expect(sam.get_by_role("region", name="It's your turn")).to_be_visible()
            await shot(sam, "your-turn-360")
            await shot(robin, "round-facilitator-desktop")
            await say(sam, "Tiredness, mostly. And some relief that I came.")
            await sam.get_by_role("button", name="Done", exact=True).click()
            await expect(alex.get_by_role("region", name="It's your turn")).to_be_visible()
            await shot(alex, "your-turn-desktop")
            await alex.get_by_role("button", name="Pass", exact=True).click()
            await alex.get_by_role("button", name="Done", exact=True).click()

            await kim.get_by_role("button", name="I need a moment").click()
            await expect(robin.locator(".toast", has_text="Kim needs a moment")).to_be_visible()
            await shot(robin, "whisper-alert-desktop")
            await shot(kim, "moment-sent-360-dark")
            phone_robin = await person(browser, server, "robin", PHONE)
            await phone_robin.get_by_role("link", name="Join Thursday grief circle").click()
            await sam.get_by_role("button", name="Raise hand").click()
            await kim.get_by_role("button", name="I need a moment").click()
            await expect(phone_robin.locator(".toast")).not_to_have_count(0)
            await shot(phone_robin, "whisper-alert-360")
            await phone_robin.get_by_role("button", name="Group").click()
            await shot(phone_robin, "facilitator-tools-360")

            await robin.get_by_role("button", name="End the session…").click()
            await robin.get_by_role("dialog").get_by_role("button", name="End the session").click()
            await expect(robin.get_by_role("region", name="Session summary")).to_be_visible()
            await shot(robin, "summary-desktop")
            await robin.get_by_role("link", name="Group settings and record").click()
            record = robin.locator(".record .run").first
            await expect(record).to_be_visible()
            await record.scroll_into_view_if_needed()
            await shot(robin, "record-desktop")
            await browser.close()
    finally:
        await community.close()
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
