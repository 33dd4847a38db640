"""A whole group session in a real browser: a facilitator and two members, each in
their own browser context, doing what people do in a session — and axe-core checking
every screen they pass through."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Person,
    act_on,
    axe_check,
    dialog_submit,
    screenshot,
    sign_in,
)
from tests.live import Community, LiveServer

pytestmark = pytest.mark.integration


async def test_a_whole_session_in_the_browser(
    browser: Browser, server: LiveServer, community: Community, people: list[Person]
) -> None:
    await community.person("robin", "Robin", "facilitator")
    await community.person("kim", "Kim")
    await community.person("lee", "Lee")
    await community.room("robin", ["kim", "lee"], name="Thursday circle")

    # -- everyone arrives --------------------------------------------------------------
    robin = await sign_in(browser, server, people, "robin", DESKTOP)
    await axe_check(robin.page, "my groups")
    await screenshot(robin.page, "groups-desktop")
    await robin.page.get_by_role("link", name="Join Thursday circle").click()
    await expect(robin.page.get_by_role("heading", name="Facilitator tools")).to_be_visible()

    kim = await sign_in(browser, server, people, "kim", DESKTOP)
    await kim.page.get_by_role("link", name="Join Thursday circle").click()
    await expect(kim.page.get_by_role("heading", name="Before you join")).to_be_visible()
    await axe_check(kim.page, "welcome")
    await screenshot(kim.page, "welcome-desktop")
    await kim.page.get_by_role("button", name="I agree — I'd like to share").click()

    lee = await sign_in(browser, server, people, "lee", PHONE)
    await screenshot(lee.page, "groups-360")
    await lee.page.get_by_role("link", name="Join Thursday circle").click()
    await expect(lee.page.get_by_role("heading", name="Before you join")).to_be_visible()
    await screenshot(lee.page, "welcome-360")
    await lee.page.get_by_role("button", name="I agree — Just listen").click()
    await expect(lee.page.locator("#compose-why")).to_contain_text("You're listening")
    await expect(lee.page.get_by_label("Your message")).to_be_disabled()
    await expect(lee.page.locator(".conn")).to_be_hidden()  # no status to read when all is well

    # -- Kim shares, Lee listens and reacts --------------------------------------------
    await kim.page.get_by_label("Your message").fill("Hello everyone, I'm glad to be here.")
    await kim.page.get_by_role("button", name="Send").click()
    for person in (robin, lee):
        await expect(person.messages("glad to be here")).to_have_count(1)
    await lee.messages("glad to be here").get_by_role("button", name="React").click()
    await lee.messages("glad to be here").get_by_role("button", name="Me too").click()
    await expect(kim.messages("glad to be here").locator(".chip")).to_have_text("Me too 1")

    await kim.page.get_by_label("Your message").fill("This one is about a hard week.")
    await kim.page.get_by_label("Content warning").check()
    await kim.page.get_by_role("button", name="Send").click()
    warned = lee.messages("Content warning")
    await expect(warned).to_have_count(1)
    await expect(warned.get_by_text("about a hard week")).to_be_hidden()
    await warned.get_by_text("Content warning").click()
    await expect(warned.get_by_text("about a hard week")).to_be_visible()

    # -- a round: the listener is not called on, Kim passes and gets another chance ------
    await robin.page.get_by_role("button", name="Start a round…").click()
    await dialog_submit(robin.page, "Start", Kind="check_in")
    await expect(robin.page.get_by_role("heading", name="Check-in")).to_be_visible()
    for person in (robin, kim, lee):
        await expect(person.page.locator(".note", has_text="Check-in started")).to_be_visible()
    await lee.page.get_by_role("button", name="Group").click()
    await expect(lee.page.get_by_role("list", name="Order")).not_to_contain_text("Lee")
    await lee.page.get_by_role("button", name="Close").click()
    await expect(kim.page.get_by_role("heading", name="It's your turn")).to_be_visible()
    # Lee opts in to share mid-round: still not called on, and told whose turn it is.
    await lee.page.get_by_role("button", name="I'd like to share").click()
    await expect(lee.page.locator("#compose-why")).to_contain_text("It's Kim's turn to share")
    await lee.page.get_by_role("button", name="Just listen").click()
    await expect(lee.page.locator("#compose-why")).to_contain_text("You're listening")
    await axe_check(kim.page, "room, your turn")
    await screenshot(kim.page, "round-your-turn-desktop")
    await kim.page.get_by_role("button", name="Pass", exact=True).click()
    await expect(
        kim.page.get_by_role("heading", name="Another chance, if you'd like")
    ).to_be_visible()
    await kim.page.get_by_role("button", name="Done", exact=True).click()
    await expect(robin.page.get_by_role("heading", name="Check-in has ended")).to_be_visible()
    await expect(robin.page.locator(".panel", has_text="Check-in has ended")).to_contain_text(
        "Kim: passed, then shared"
    )
    # Passing cost Kim nothing: the others see who shared, never a list of who passed.
    ended = lee.page.locator(".note", has_text="Check-in has ended")
    await expect(ended).to_have_text("Check-in has ended. Shared: Kim.")
    await expect(lee.page.locator("#main")).not_to_contain_text("passed")

    # -- a mute: Kim sees why she can't post --------------------------------------------
    await act_on(robin.page, "Kim", "Mute")
    await dialog_submit(robin.page, "Mute", For_how_long="5")
    await expect(kim.page.locator("#compose-why")).to_contain_text("paused your messages")
    await expect(kim.page.get_by_label("Your message")).to_be_disabled()
    await axe_check(kim.page, "room, muted")
    await act_on(robin.page, "Kim", "Unmute")
    await expect(kim.page.get_by_label("Your message")).to_be_enabled()

    # -- pause and resume ----------------------------------------------------------------
    await robin.page.get_by_role("button", name="Pause…").click()
    await dialog_submit(robin.page, "Pause")
    await expect(kim.page.locator("#compose-why")).to_contain_text("The group is paused")
    await expect(lee.page.locator(".banner")).to_contain_text("Paused")
    await robin.page.get_by_role("button", name="Resume the group").click()
    await expect(kim.page.get_by_label("Your message")).to_be_enabled()

    # -- a redaction --------------------------------------------------------------------
    await kim.page.get_by_label("Your message").fill("Something I'd rather take back.")
    await kim.page.get_by_role("button", name="Send").click()
    regret = robin.messages("rather take back")
    await expect(regret).to_have_count(1)
    await regret.get_by_role("button", name="React").click()
    await regret.get_by_role("button", name="Remove text…").click()
    await dialog_submit(robin.page, "Remove text")
    for person in (kim, lee):
        await expect(person.page.get_by_text("rather take back")).to_have_count(0)  # anywhere
        await expect(
            person.page.get_by_text("This message was removed by a facilitator.")
        ).to_have_count(1)

    # -- Lee's phone drops off the network and comes back: nothing missed, nothing twice ---
    await lee.context.set_offline(True)
    await expect(lee.page.locator(".conn")).to_have_text("Reconnecting…")
    missed = [f"While you were away, part {i}." for i in range(3)]
    for text in missed:
        await robin.page.get_by_label("Your message").fill(text)
        await robin.page.get_by_role("button", name="Send").click()
        await expect(kim.messages(text)).to_have_count(1)
    await lee.context.set_offline(False)
    await expect(lee.page.locator(".conn")).to_be_hidden(timeout=20_000)
    for text in missed:
        await expect(lee.messages(text)).to_have_count(1)
    texts = await lee.page.locator(".messages li.message .text").all_text_contents()
    assert [t for t in texts if t.startswith("While you were away")] == missed
    await axe_check(lee.page, "room, phone")
    await screenshot(lee.page, "room-360")
    await screenshot(robin.page, "room-facilitator-desktop")
    await axe_check(robin.page, "room, facilitator")

    # -- crisis support is one tap away ---------------------------------------------------
    await lee.page.get_by_role("button", name="Crisis support").click()
    crisis = lee.page.get_by_role("dialog", name="Crisis support")
    await expect(crisis).to_contain_text("crisis")
    await axe_check(lee.page, "crisis dialog")
    await crisis.get_by_role("button", name="Close").click()

    # -- a removal ----------------------------------------------------------------------
    await act_on(robin.page, "Lee", "Remove")
    await dialog_submit(robin.page, "Remove")
    await expect(lee.page.get_by_role("heading", name="Take care")).to_be_visible()
    await expect(lee.page.locator("#main").get_by_text("asked you to step out")).to_be_visible()
    await axe_check(lee.page, "removed")
    await expect(robin.page.locator(".people")).not_to_contain_text("Lee")

    # -- managing the group ------------------------------------------------------------------
    await robin.page.get_by_role("link", name="Group settings and record").click()
    await expect(robin.page.get_by_role("heading", name=re.compile("settings"))).to_be_visible()
    await robin.page.get_by_role("button", name="Create an invite code").click()
    await expect(robin.page.locator(".code")).to_have_count(1)
    await robin.page.locator(".invites").get_by_role("button", name="Revoke").click()
    await expect(robin.page.locator(".invites")).to_contain_text("revoked")
    await expect(robin.page.locator(".record")).to_contain_text("Robin muted Kim for 5 minutes")
    await axe_check(robin.page, "group settings")
    await screenshot(robin.page, "manage-desktop")

    expected = [
        f"status of 401 (Unauthorized) ({server.base}/api/auth/me)",  # before signing in
        "ERR_INTERNET_DISCONNECTED",  # Lee's reconnection attempts while offline
    ]
    for person in (robin, kim, lee):
        errors = person.console.unexpected(expected)
        assert not errors, "console errors:\n" + "\n".join(errors)
