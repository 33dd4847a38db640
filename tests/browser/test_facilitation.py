"""The facilitator's side in a real browser — the waiting room, hands, whispers, the
door — and the app's promises about accessibility and security."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

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
    watch_console,
)
from tests.live import Community, LiveServer

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

pytestmark = pytest.mark.integration

STATIC = Path(__file__).parents[2] / "client" / "holdspace_web" / "static"


async def test_the_waiting_room_hands_the_floor_and_whispers(
    browser: Browser, server: LiveServer, community: Community, people: list[Person]
) -> None:
    """A waiting room, a raised hand given the floor, a whisper answered privately: the
    facilitator is alerted in the first screen, and the member is told at every step."""
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
    arrival = robin.page.locator(".toast", has_text="Kim is waiting to come in")
    await expect(arrival).to_be_in_viewport()
    await expect(
        robin.page.get_by_role("heading", name=re.compile("Waiting to come in"))
    ).to_be_visible()
    await arrival.get_by_role("button", name="Admit").click()
    await expect(kim.page.get_by_role("heading", name="Before you join")).to_be_visible()
    await kim.page.get_by_role("button", name="I agree — Just listen").click()

    # A raised hand, given the floor: Kim is told, and can choose to share in one tap.
    await kim.page.get_by_role("button", name="Raise hand").click()
    await expect(kim.page.get_by_role("button", name="Lower hand")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(robin.page.locator(".people")).to_contain_text("hand raised (1)")
    await robin.page.get_by_role("button", name="Give the floor to Kim").click()
    bar = kim.page.get_by_role("region", name="You have the floor")
    await expect(bar).to_be_in_viewport()
    await expect(bar).to_be_focused()
    await bar.get_by_role("button", name="I'd like to share").click()
    await kim.page.get_by_label("Your message").fill("Thank you for the floor.")
    await kim.page.get_by_label("Your message").press("Enter")
    await expect(robin.messages("Thank you for the floor.")).to_have_count(1)
    await bar.get_by_role("button", name="Done").click()
    await expect(bar).to_be_hidden()
    await expect(kim.page.locator(".note", has_text="Kim has the floor")).to_have_count(1)

    # "I need a moment", in one tap; the facilitator is alerted and answers privately.
    await kim.page.get_by_role("button", name="I need a moment").click()
    await expect(kim.page.locator(".sent")).to_contain_text("Sent to the facilitators ✓")
    alert = robin.page.locator(".toast", has_text="Kim needs a moment")
    await expect(alert).to_be_in_viewport()
    await alert.get_by_role("button", name="Reply").click()
    await dialog_submit(robin.page, "Send privately", Your_reply="Take your time, Kim.")
    answer = kim.page.locator(".toast", has_text="Take your time, Kim.")
    await expect(answer).to_be_in_viewport()
    await expect(kim.page.locator(".messages")).not_to_contain_text("Take your time")

    await robin.page.get_by_role("switch", name="Door locked").click()
    await expect(robin.page.get_by_role("switch", name="Door locked")).to_have_attribute(
        "aria-checked", "true"
    )
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
    # Two days that are neither today nor tomorrow in London: the new group is not
    # meeting (or about to) whenever the test runs, so it shows its next session.
    today = datetime.now(ZoneInfo("Europe/London")).weekday()
    for day in ((today + 2) % 7, (today + 4) % 7):
        await robin.page.get_by_label(WEEKDAYS[day]).check()
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


@pytest.mark.server_settings(signup_per_address=1)
async def test_a_newcomer_signs_up_with_an_invite_code_and_is_in_the_group(
    browser: Browser, server: LiveServer, community: Community, people: list[Person]
) -> None:
    """On a phone: the sign-up form takes the facilitator's code, and the newcomer lands
    in the group — even from an address that has used up its sign-ups."""
    robin = await community.person("robin", "Robin", "facilitator")
    room = await community.room("robin", [], name="Grief circle")
    _, code = await server.call(server.services.rooms.invite(robin, room.id, 10, 24.0))
    for username, name, invite in (("first", "Ash", ""), ("second", "Bo", code.lower())):
        context = await browser.new_context(viewport=PHONE)  # another phone, same network
        page = await context.new_page()
        people.append(Person(context, page, watch_console(page)))
        await page.goto(server.base + "/#/signup")
        await expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
        await page.get_by_label("Username").fill(username)
        await page.get_by_label("Display name").fill(name)
        await page.get_by_label("Password").fill("a long enough password")
        await page.get_by_label("Invite code (if you have one)").fill(invite)
        await page.get_by_role("button", name="Create account").click()
        await expect(page.get_by_role("heading", name="My groups")).to_be_visible()
        if not invite:  # the address's one sign-up without a code
            await expect(page.get_by_text("You're not in any groups yet")).to_be_visible()
    await expect(page.locator(".group", has_text="Grief circle")).to_be_visible()


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
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # Sign in with the keyboard only. Leaving quickly comes first, then skipping to content.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Leave quickly")).to_be_focused()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")  # skip to content
    await page.keyboard.press("Tab")
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
    assert await page.evaluate("() => sessionStorage.length") == 0
    assert await page.evaluate("() => Object.keys(localStorage)") == []  # no session there

    join = page.get_by_role("link", name="Join Evening circle")
    await join.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="I agree — I'd like to share")).to_be_visible()
    await page.get_by_role("button", name="I agree — I'd like to share").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Your message")).to_be_focused()
    await page.keyboard.type("Typed with the keyboard alone.")
    await page.keyboard.press("Enter")
    await expect(robin.page.locator(".messages")).to_contain_text("Typed with the keyboard alone.")

    overflow = await page.evaluate(
        "() => document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )
    assert overflow <= 0, f"{overflow}px of sideways scrolling at 200% zoom"
    await axe_check(page, "room, dark, 200% zoom")
    await screenshot(page, "room-dark-zoom")


def test_user_content_never_becomes_markup() -> None:
    """No code path in the app parses strings as HTML, but one: ``linked`` in dom.js reads
    the server's sanitized links in what facilitators wrote, and rebuilds them node by node."""
    sinks = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function"
        r"|DOMParser|parseFromString|createContextualFragment"
    )
    for path in STATIC.rglob("*.js"):
        found = sinks.findall(path.read_text(encoding="utf-8"))
        if path.name == "dom.js":
            assert found == ["DOMParser", "parseFromString"], found
        else:
            assert not found, f"{path.name}: {found}"
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in html  # inline scripts would break the policy anyway
    assert ' style="' not in html


async def test_links_in_what_facilitators_wrote_keep_only_safe_addresses(
    browser: Browser, server: LiveServer
) -> None:
    """The one place HTML is read — the server's links — keeps text and https:/tel: links,
    and nothing else, even if the server sent something worse."""
    page = await browser.new_page()
    await page.goto(server.base + "/")
    built = await page.evaluate(
        """async () => {
            const { linked } = await import('/static/js/dom.js');
            const box = document.createElement('p');
            box.append(linked('Call <a href="tel:116123">116 123</a> or '
              + '<a href="https://example.org" onclick="x()">help</a>. '
              + '<a href="javascript:alert(1)">bad</a><img src=x onerror="alert(1)">'
              + '<b>bold</b> &lt;hugs&gt; <script>alert(2)</script>'));
            return { text: box.textContent,
                     links: [...box.querySelectorAll('a')].map((a) =>
                       [a.getAttribute('href'), a.getAttribute('rel'), a.getAttribute('onclick')]),
                     elements: [...box.querySelectorAll('*')].map((e) => e.tagName) };
        }"""
    )
    assert built["links"] == [
        ["tel:116123", "noopener noreferrer", None],
        ["https://example.org", "noopener noreferrer", None],
    ]
    assert built["elements"] == ["A", "A"]
    assert built["text"] == "Call 116 123 or help. badbold <hugs> alert(2)"
