"""The room on a phone (360×740) and on a desktop: your turn in plain sight, signals a
facilitator can't miss, words kept as typed, focus that stays where it was, and the small
things a session depends on. Geometry is asserted where it matters."""

from __future__ import annotations

import time

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from holdspace.records import Room
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Person,
    act_on,
    close_panel,
    dialog_submit,
    open_panel,
    screenshot,
    sign_in,
    watch_console,
)
from tests.live import Community, LiveServer, open_now_schedule

pytestmark = pytest.mark.integration


@pytest.fixture(params=[PHONE, DESKTOP], ids=["360x740", "1280x800"])
def size(request: pytest.FixtureRequest) -> ViewportSize:
    """Each test that asks for it runs at phone size and at desktop size."""
    viewport: ViewportSize = request.param
    return viewport


async def join(person: Person, room: str, choice: str | None = "I'd like to share") -> None:
    """Open the group's room and, for a member, affirm the agreement with ``choice``."""
    await person.page.get_by_role("link", name=f"Join {room}").click()
    if choice is None:
        await expect(person.page.locator(".dock")).to_be_visible()
        return
    await person.page.get_by_role("button", name=f"I agree — {choice}").click()
    await expect(person.page.get_by_label("Your message")).to_be_attached()


async def post(person: Person, text: str) -> None:
    box = person.page.get_by_label("Your message")
    await box.fill(text)
    await box.press("Enter")
    await expect(box).to_have_value("")


async def focused(page: Page) -> str:
    """What has focus, in words a failure message can show."""
    described: str = await page.evaluate(
        """() => { const el = document.activeElement;
            return el ? `${el.tagName.toLowerCase()} ${el.getAttribute('data-key') || ''}`
              + ` ${(el.textContent || '').trim().slice(0, 40)}` : 'nothing'; }"""
    )
    return described


async def page_scrolls(page: Page) -> bool:
    scrolls: bool = await page.evaluate(
        "() => document.scrollingElement.scrollHeight > window.innerHeight + 1"
    )
    return scrolls


async def robin_and_kim(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    robin_size: ViewportSize,
    kim_size: ViewportSize,
) -> tuple[Person, Person]:
    """Robin (facilitating) and Kim (sharing) in the Thursday circle, at these sizes."""
    await group(community, "kim")
    robin = await sign_in(browser, server, people, "robin", robin_size)
    await join(robin, "Thursday circle", None)
    kim = await sign_in(browser, server, people, "kim", kim_size)
    await join(kim, "Thursday circle")
    return robin, kim


async def group(
    community: Community, *members: str, name: str = "Thursday circle", **spec: object
) -> Room:
    await community.person("robin", "Robin", "facilitator")
    for member in members:
        await community.person(member, member.title())
    return await community.room("robin", list(members), name=name, **spec)


async def test_your_turn_is_unmistakable_and_the_page_holds_still(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    size: ViewportSize,
) -> None:
    """When the talking piece reaches Kim: Done and Pass are on screen without scrolling,
    focus is on the bar, it is said aloud, and the tab title changes. The page itself never
    scrolls: the conversation does."""
    robin, kim = await robin_and_kim(browser, server, community, people, DESKTOP, size)
    for i in range(25):  # a long conversation first
        await robin.page.get_by_label("Your message").fill(f"Line {i} of a long welcome.")
        await robin.page.get_by_label("Your message").press("Enter")
    await expect(kim.messages("Line 24 of a long welcome.")).to_be_in_viewport()
    assert not await page_scrolls(kim.page)

    await robin.page.get_by_role("button", name="Start a round…").click()
    await dialog_submit(robin.page, "Start", Prompt="What's alive for you tonight?")
    bar = kim.page.get_by_role("region", name="It's your turn")
    await expect(bar).to_be_focused()
    for control in ("Done", "Pass"):
        await expect(bar.get_by_role("button", name=control, exact=True)).to_be_in_viewport(ratio=1)
    await expect(bar).to_contain_text("What's alive for you tonight?")
    await screenshot(kim.page, f"your-turn-{size['width']}")
    await expect(kim.page.locator("#assertive")).to_contain_text("It's your turn")
    assert await kim.page.title() == "Your turn — Holdspace"
    assert not await page_scrolls(kim.page)

    await bar.get_by_role("button", name="Pass", exact=True).click()
    chance = kim.page.get_by_role("region", name="Another chance, if you'd like")
    await expect(chance).to_be_focused()
    await chance.get_by_role("button", name="Done", exact=True).click()
    await expect(chance).to_be_hidden()
    assert await kim.page.title() == "Holdspace"
    # The bar is gone, and focus with it: it lands in the conversation, not at the top.
    await expect(kim.page.get_by_role("list", name="Messages")).to_be_focused()


async def test_a_facilitator_never_misses_a_whisper_or_an_arrival(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    size: ViewportSize,
) -> None:
    """A whisper raises an alert inside the first screen within a second, counts in the
    title and on the group button, and is answered privately from the alert itself; an
    arrival can be admitted from its alert."""
    await group(community, "kim", "dee", waiting_room=True)
    robin = await sign_in(browser, server, people, "robin", size)
    await join(robin, "Thursday circle", None)
    kim = await sign_in(browser, server, people, "kim", PHONE)
    await kim.page.get_by_role("link", name="Join Thursday circle").click()
    arrival = robin.page.locator(".toast", has_text="Kim is waiting to come in")
    await expect(arrival).to_be_in_viewport(ratio=1)
    await arrival.get_by_role("button", name="Admit").click()
    await kim.page.get_by_role("button", name="I agree — Just listen").click()
    assert await robin.page.title() == "Holdspace"

    whispered = time.monotonic()
    await kim.page.get_by_role("button", name="I need a moment").click()
    alert = robin.page.locator(".toast", has_text="Kim needs a moment")
    await expect(alert).to_be_in_viewport(ratio=1, timeout=1_000)
    assert time.monotonic() - whispered < 1.5
    await expect(kim.page.locator(".sent")).to_contain_text("Sent to the facilitators ✓")
    assert await robin.page.title() == "(1) Holdspace"
    await screenshot(robin.page, f"whisper-alert-{size['width']}")
    if size == PHONE:
        await expect(robin.page.get_by_role("button", name="Group 1 new")).to_be_in_viewport()
    else:
        heading = robin.page.get_by_role("heading", name="Whispers")
        await expect(heading).to_contain_text("1 new")
        await expect(heading).to_be_in_viewport()

    await alert.get_by_role("button", name="Reply").click()
    await dialog_submit(robin.page, "Send privately", Your_reply="We're here. Take your time.")
    await expect(alert).to_be_hidden()
    assert await robin.page.title() == "Holdspace"
    answer = kim.page.locator(".toast", has_text="We're here. Take your time.")
    await expect(answer).to_be_in_viewport()
    await expect(answer).to_contain_text("Robin (facilitator), privately")

    # Without toasts in the way, the panel keeps the thread (on a phone, behind "Group").
    if size == PHONE:
        await robin.page.get_by_role("button", name="Group").click()
    whispers = robin.page.locator(".whispers")
    await expect(whispers).to_contain_text("needs a moment")
    await expect(whispers).to_contain_text("Robin to Kim")


async def test_a_chime_is_chosen_and_remembered(
    browser: Browser, server: LiveServer, community: Community, people: list[Person]
) -> None:
    """The sound for alerts is off until chosen, and stays chosen on this device."""
    await group(community, "kim")
    robin = await sign_in(browser, server, people, "robin", DESKTOP)
    await join(robin, "Thursday circle", None)
    sound = robin.page.get_by_label("Sound for whispers and arrivals")
    await expect(sound).not_to_be_checked()
    await sound.check()
    await robin.page.reload()
    await expect(robin.page.get_by_label("Sound for whispers and arrivals")).to_be_checked()


async def test_words_arrive_exactly_as_typed_and_nothing_is_cut(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    size: ViewportSize,
) -> None:
    """``<hugs>`` and ``x<y and y>z`` arrive as typed; roles show beside names; a message
    over the limit is counted, held back, and never cut."""
    robin, kim = await robin_and_kim(browser, server, community, people, DESKTOP, size)
    for text in ("sending <hugs> to everyone", "x<y and y>z"):
        await post(kim, text)
        await expect(robin.messages(text).locator(".text")).to_have_text(text)
    await post(robin, "Thank you, Kim.")
    welcome = kim.messages("Thank you, Kim.")
    await expect(welcome.locator(".badge")).to_have_text("Facilitator")
    await expect(kim.messages("sending <hugs>").locator(".badge")).to_have_count(0)

    box = kim.page.get_by_label("Your message")
    await box.fill("y" * 1900)
    await expect(kim.page.locator("#compose-count")).to_have_text("1900 / 2000")
    await box.fill("y" * 10_000)
    await expect(kim.page.locator("#compose-count")).to_have_text("8000 over the limit of 2000")
    await expect(kim.page.get_by_role("button", name="Send")).to_be_disabled()
    await box.press("Enter")
    assert len(await box.input_value()) == 10_000  # kept whole, to shorten
    await box.fill("Shorter now.")
    await box.press("Enter")
    await expect(robin.messages("Shorter now.")).to_have_count(1)


async def test_enter_sends_shift_enter_breaks_the_line_and_it_can_be_turned_off(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    size: ViewportSize,
) -> None:
    """Enter sends; Shift+Enter starts a new line; with Enter-to-send off, Enter does."""
    robin, kim = await robin_and_kim(browser, server, community, people, DESKTOP, size)
    box = kim.page.get_by_label("Your message")
    await box.type("First line")
    await box.press("Shift+Enter")
    await box.type("second line")
    await box.press("Enter")
    await expect(robin.messages("second line").locator(".text")).to_have_text(
        "First line\nsecond line"
    )
    await open_panel(kim.page)
    await kim.page.get_by_label("Enter sends my message").uncheck()
    await close_panel(kim.page)
    await box.type("Line one")
    await box.press("Enter")
    await box.type("line two")
    await expect(box).to_have_value("Line one\nline two")
    await kim.page.get_by_role("button", name="Send").click()
    await expect(robin.messages("line two")).to_have_count(1)


async def test_focus_stays_where_the_person_is(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    size: ViewportSize,
) -> None:
    """Choosing to share or listen, reacting, and the panel being rebuilt by someone else's
    hand never move focus; Escape closes a dialog and returns focus to what opened it."""
    await group(community, "kim", "lee")
    robin = await sign_in(browser, server, people, "robin", DESKTOP)
    await join(robin, "Thursday circle", None)
    kim = await sign_in(browser, server, people, "kim", size)
    await join(kim, "Thursday circle")
    assert await focused(kim.page) == "textarea  "  # straight into the composer
    lee = await sign_in(browser, server, people, "lee", size)
    await join(lee, "Thursday circle", "Just listen")
    await expect(lee.page.get_by_role("list", name="Messages")).to_be_focused()

    await post(robin, "Welcome, everyone.")
    message = kim.messages("Welcome, everyone.")
    await message.get_by_role("button", name="React").click()
    me_too = message.get_by_role("button", name="Me too")
    await expect(me_too).to_be_focused()
    await me_too.click()
    await expect(message.locator(".chip")).to_have_text("Me too 1")  # the count came back
    await expect(me_too).to_have_attribute("aria-pressed", "true")
    await expect(me_too).to_be_focused()
    await me_too.press("Escape")
    await expect(message.get_by_role("button", name="React")).to_be_focused()

    listen = kim.page.get_by_role("button", name="Just listen")
    await listen.click()
    share = kim.page.get_by_role("button", name="I'd like to share")
    await expect(share).to_be_focused()

    # Robin's tools are rebuilt when Lee raises a hand; Robin's focus doesn't move.
    start = robin.page.get_by_role("button", name="Start a round…")
    await start.focus()
    await lee.page.get_by_role("button", name="Raise hand").click()
    await expect(robin.page.locator(".people")).to_contain_text("hand raised (1)")
    await expect(start).to_be_focused()

    # Kim holds the piece with focus on Done while Lee lowers a hand: Done keeps it.
    await share.click()
    await robin.page.get_by_role("button", name="Start a round…").click()
    await dialog_submit(robin.page, "Start")
    done = kim.page.get_by_role("region", name="It's your turn").get_by_role("button", name="Done")
    await done.focus()
    await lee.page.get_by_role("button", name="Lower hand").click()
    await expect(robin.page.locator(".people")).not_to_contain_text("hand raised")
    await expect(done).to_be_focused()

    pause = robin.page.get_by_role("button", name="Pause…")
    await pause.click()
    await expect(robin.page.get_by_role("dialog", name="Pause the group")).to_be_visible()
    await robin.page.keyboard.press("Escape")
    await expect(robin.page.get_by_role("dialog")).to_have_count(0)
    await expect(pause).to_be_focused()


async def test_the_floor_is_given_to_someone_who_can_see_it(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    size: ViewportSize,
) -> None:
    """Given the floor as a listener, Sam is told, shares in one tap, speaks while others
    wait, and gives it back; everyone sees who has it."""
    await group(community, "sam", "kim")
    robin = await sign_in(browser, server, people, "robin", DESKTOP)
    await join(robin, "Thursday circle", None)
    sam = await sign_in(browser, server, people, "sam", size)
    await join(sam, "Thursday circle", "Just listen")
    kim = await sign_in(browser, server, people, "kim", PHONE)
    await join(kim, "Thursday circle")
    await sam.page.get_by_role("button", name="Raise hand").click()
    await robin.page.get_by_role("button", name="Give the floor to Sam").click()
    bar = sam.page.get_by_role("region", name="You have the floor")
    await expect(bar).to_be_focused()
    for control in ("I'd like to share", "Done", "Pass"):
        await expect(bar.get_by_role("button", name=control, exact=True)).to_be_in_viewport(ratio=1)
    await expect(kim.page.locator(".roundline")).to_have_text("Sam has the floor")
    await screenshot(sam.page, f"floor-{size['width']}")
    await expect(kim.page.locator("#compose-why")).to_contain_text("It's Sam's turn to speak")
    await bar.get_by_role("button", name="I'd like to share").click()
    await post(sam, "I wanted to say thank you.")
    await expect(kim.messages("I wanted to say thank you.")).to_have_count(1)
    await bar.get_by_role("button", name="Done", exact=True).click()
    await expect(kim.page.locator(".roundline")).to_be_hidden()
    await expect(kim.page.get_by_label("Your message")).to_be_enabled()


async def test_the_waiting_room_can_be_turned_on_from_the_room(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    size: ViewportSize,
) -> None:
    """Turned on mid-session from the room, the waiting room holds the next arrival."""
    await group(community, "kim")
    robin = await sign_in(browser, server, people, "robin", size)
    await join(robin, "Thursday circle", None)
    await open_panel(robin.page)
    switch = robin.page.get_by_role("switch", name="Waiting room")
    await expect(switch).to_have_attribute("aria-checked", "false")
    await switch.click()
    await expect(switch).to_have_attribute("aria-checked", "true")
    await expect(switch).to_be_focused()
    await close_panel(robin.page)
    await expect(robin.page.locator(".banner")).to_contain_text("Waiting room on")
    kim = await sign_in(browser, server, people, "kim", PHONE)
    await kim.page.get_by_role("link", name="Join Thursday circle").click()
    await expect(kim.page.get_by_role("heading", name="Please wait a moment")).to_be_visible()
    await expect(robin.page.locator(".toast", has_text="Kim is waiting")).to_be_in_viewport()


async def test_a_name_imitating_the_facilitator_is_refused(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    size: ViewportSize,
) -> None:
    """Signing up as "Robin (facilitator)" is refused with a clear error; an account called
    like the facilitator is asked for another name before it can join, then joins."""
    room = await group(community, "kim")
    context = await browser.new_context(viewport=size)
    page = await context.new_page()
    people.append(Person(context, page, watch_console(page)))
    await page.goto(server.base + "/#/signup")
    await page.get_by_label("Username").fill("poser")
    await page.get_by_label("Display name").fill("Robin (facilitator)")
    await page.get_by_label("Password").fill("a long enough password")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("alert")).to_contain_text("can't suggest a role")
    await expect(page.get_by_label("Display name")).to_be_focused()

    await community.person("twin", "R0BIN")  # an account made before names were checked
    store = server.services.rooms.store
    await server.call(store.enrol(room.id, community.users["twin"].id, server.clock.now()))
    twin = await sign_in(browser, server, people, "twin", size)
    await twin.page.get_by_role("link", name="Join Thursday circle").click()
    await expect(
        twin.page.get_by_role("heading", name="Choose another name for this group")
    ).to_be_visible()
    await expect(twin.page.get_by_role("alert")).to_contain_text("looks too much like Robin")
    await twin.page.get_by_label("Display name").fill("Rоbin")  # a Cyrillic о
    await twin.page.get_by_role("button", name="Save and join").click()
    await expect(twin.page.get_by_role("alert")).to_contain_text("looks too much like Robin")
    await twin.page.get_by_label("Display name").fill("Jamie")
    await twin.page.get_by_role("button", name="Save and join").click()
    await expect(twin.page.get_by_role("heading", name="Before you join")).to_be_visible()


async def test_the_lobby_says_when_the_group_starts_not_meeting_now(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    size: ViewportSize,
) -> None:
    """Before the start the card says the room is open and when the group starts."""
    await group(community, "kim", schedule=open_now_schedule(server.clock.now(), minutes_ago=-10))
    kim = await sign_in(browser, server, people, "kim", size)
    card = kim.page.locator(".group", has_text="Thursday circle")
    await expect(card).to_contain_text("The room is open — the group starts at")
    await expect(card).not_to_contain_text("Meeting now")


async def test_crisis_numbers_and_addresses_can_be_tapped(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    size: ViewportSize,
) -> None:
    """The group's crisis resources link their phone number and web address, and nothing
    a facilitator wrote becomes markup."""
    await group(
        community, "kim",
        crisis_resources="Samaritans: call 116 123, or visit https://www.samaritans.org <b>now</b>",
    )  # fmt: skip
    kim = await sign_in(browser, server, people, "kim", size)
    await kim.page.get_by_role("link", name="Join Thursday circle").click()
    resources = kim.page.locator(".resources")
    await expect(resources.locator('a[href="tel:116123"]')).to_have_text("116 123")
    web = resources.locator('a[href="https://www.samaritans.org"]')
    await expect(web).to_have_attribute("rel", "noopener noreferrer")
    await expect(resources).to_contain_text("<b>now</b>")
    await kim.page.get_by_role("button", name="I agree — Just listen").click()
    await kim.page.get_by_role("button", name="Crisis support").click()
    dialog = kim.page.get_by_role("dialog", name="Crisis support")
    await expect(dialog.locator('a[href="tel:116123"]')).to_be_visible()


async def test_the_facilitator_gets_a_summary_and_a_record_that_names_people(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    size: ViewportSize,
) -> None:
    """At the end: counts only, never words. The record says who did what to whom, a
    member's own pass is theirs, and the room's automatic pauses are folded away."""
    robin, kim = await robin_and_kim(browser, server, community, people, size, PHONE)
    await post(kim, "Something only this room should hear.")
    await robin.context.set_offline(True)  # the room pauses itself, then resumes
    await expect(kim.page.locator(".banner")).to_contain_text("Paused until a facilitator")
    await robin.context.set_offline(False)
    await expect(kim.page.locator(".banner")).to_be_hidden(timeout=20_000)
    await open_panel(robin.page)
    await robin.page.get_by_role("button", name="Start a round…").click()
    await dialog_submit(robin.page, "Start")
    await (
        kim.page.get_by_role("region", name="It's your turn")
        .get_by_role("button", name="Pass", exact=True)
        .click()
    )
    await (
        kim.page.get_by_role("region", name="Another chance, if you'd like")
        .get_by_role("button", name="Pass", exact=True)
        .click()
    )
    await robin.page.get_by_role("button", name="End the session…").click()
    await dialog_submit(robin.page, "End the session")
    summary = robin.page.get_by_role("region", name="Session summary")
    await expect(summary).to_contain_text("1 member came: Kim.")
    await expect(summary).to_contain_text("0 shares and 2 passes in rounds")
    await expect(summary).not_to_contain_text("only this room")
    await expect(robin.page.locator(".conn")).to_have_text("Session ended")
    await screenshot(robin.page, f"summary-{size['width']}")
    await expect(kim.page.get_by_role("heading", name="Take care")).to_be_visible()

    await summary.get_by_role("link", name="Group settings and record").click()
    record = robin.page.locator(".record")
    await expect(record.locator(".run").first).to_contain_text("Session of")
    await expect(record).to_contain_text("Kim passed")
    await expect(record).to_contain_text("Robin started a round")
    await expect(record).to_contain_text("Paused by itself 1 time while no facilitator")
    await expect(record).not_to_contain_text("a facilitator passed")
    await expect(record.locator(".counts")).to_contain_text("1 member · 1 round · 0 shares")
    await record.scroll_into_view_if_needed()
    await screenshot(robin.page, f"record-{size['width']}")


async def test_a_facilitators_person_tools(
    browser: Browser,
    server: LiveServer,
    community: Community,
    people: list[Person],
    size: ViewportSize,
) -> None:
    """A facilitator's person tools: mute with a duration, then unmute."""
    robin, kim = await robin_and_kim(browser, server, community, people, size, PHONE)
    await open_panel(robin.page)
    await act_on(robin.page, "Kim", "Mute")
    await dialog_submit(robin.page, "Mute", For_how_long="5")
    await expect(kim.page.locator("#compose-why")).to_contain_text("paused your messages")
    await act_on(robin.page, "Kim", "Unmute")
    await expect(kim.page.get_by_label("Your message")).to_be_enabled()
