"""The composer keeps what someone is typing: a reply to the previous message, arriving
late, must not wipe the next one; and it says why it is off as the server tells it.
Frames are held back on their way to the browser (Playwright routes the page's
WebSocket) so what arrives late arrives late every time."""

from __future__ import annotations

import asyncio
import json
import re
from unittest.mock import ANY

import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from tests.browser.conftest import DESKTOP, PHONE, Person, axe_check, sign_in
from tests.live import Community, LiveServer

pytestmark = pytest.mark.integration


class HoldPostReplies:
    """Pass every frame through, except replies to posts: those wait for :meth:`release`."""

    def __init__(self) -> None:
        self.posts: set[object] = set()
        self.held: list[str | bytes] = []
        self.holding = asyncio.Event()
        self.page: WebSocketRoute | None = None

    def route(self, ws: WebSocketRoute) -> None:
        self.page = ws
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "post":
                self.posts.add(frame.get("id"))
            server.send(message)

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "reply" and frame.get("id") in self.posts:
                self.held.append(message)
                self.holding.set()
            else:
                ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)

    def release(self) -> None:
        assert self.page is not None
        for message in self.held:
            self.page.send(message)
        self.held.clear()


async def test_words_typed_while_a_message_is_on_its_way_are_kept(
    browser: Browser, server: LiveServer, community: Community, people: list[Person]
) -> None:
    await community.person("robin", "Robin", "facilitator")
    await community.room("robin", [], name="Quiet room")
    robin = await sign_in(browser, server, people, "robin", DESKTOP)
    replies = HoldPostReplies()
    await robin.context.route_web_socket(re.compile(r"/ws$"), replies.route)
    await robin.page.get_by_role("link", name="Join Quiet room").click()
    await expect(robin.page.get_by_role("heading", name="Facilitator tools")).to_be_visible()

    box = robin.page.get_by_label("Your message")
    await box.fill("The first thing I wanted to say.")
    await robin.page.get_by_role("button", name="Send").click()
    async with asyncio.timeout(10):
        await replies.holding.wait()  # posted; its reply is held back
    await expect(robin.messages("The first thing I wanted to say.")).to_have_count(1)
    await box.fill("And a second thought, typed before the first was confirmed.")
    replies.release()
    await expect(robin.page.get_by_role("button", name="Send")).to_be_enabled()
    await expect(box).to_have_value("And a second thought, typed before the first was confirmed.")
    replies.holding.clear()
    await robin.page.get_by_role("button", name="Send").click()
    async with asyncio.timeout(10):
        await replies.holding.wait()
    await expect(robin.messages("And a second thought")).to_have_count(1)
    replies.release()
    await expect(box).to_have_value("")  # what was sent, and only that, is cleared


class Relay:
    """Pass every frame through, except frames of the ``held`` types from the server,
    which wait for :meth:`release`. :meth:`inject` sends the page a frame of our own;
    :meth:`drop` cuts the connection, and while ``refusing`` the page can't reconnect."""

    def __init__(self) -> None:
        self.held_types: set[str] = set()
        self.held: list[str | bytes] = []
        self.holding = asyncio.Event()
        self.refusing = False
        self.resumed: dict[str, object] | None = None  # the last resume's answer
        self.page: WebSocketRoute | None = None
        self.server: WebSocketRoute | None = None

    async def route(self, ws: WebSocketRoute) -> None:
        if self.refusing:
            await ws.close(code=4000, reason="refused by the test")
            return
        self.page = ws
        self.server = server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "reply" and frame.get("resumed"):
                self.resumed = frame
            if frame.get("type") in self.held_types:
                self.held.append(message)
                self.holding.set()
            else:
                ws.send(message)

        ws.on_message(server.send)
        server.on_message(from_server)

    def release(self) -> None:
        assert self.page is not None
        self.held_types.clear()
        for message in self.held:
            self.page.send(message)
        self.held.clear()

    def inject(self, frame: dict[str, object]) -> None:
        assert self.page is not None
        self.page.send(json.dumps(frame))

    async def drop(self) -> None:
        """Close both sides, as a lost network would (not a close the page takes as final)."""
        assert self.page is not None
        assert self.server is not None
        await self.server.close()
        await self.page.close(code=4000, reason="dropped by the test")


async def robin_and_kim(
    browser: Browser, server: LiveServer, community: Community, people: list[Person]
) -> tuple[Person, Person, Relay]:
    """Robin facilitating on a desktop; Kim sharing on a phone, her WebSocket relayed."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("kim", "Kim")
    await community.room("robin", ["kim"], name="Quiet room")
    robin = await sign_in(browser, server, people, "robin", DESKTOP)
    await robin.page.get_by_role("link", name="Join Quiet room").click()
    await expect(robin.page.get_by_role("heading", name="Facilitator tools")).to_be_visible()
    kim = await sign_in(browser, server, people, "kim", PHONE)
    relay = Relay()
    await kim.context.route_web_socket(re.compile(r"/ws$"), relay.route)
    await kim.page.get_by_role("link", name="Join Quiet room").click()
    await kim.page.get_by_role("button", name="I agree — I'd like to share").click()
    await expect(kim.page.get_by_label("Your message")).to_be_enabled()
    await expect(kim.page.locator("#compose-why")).to_have_text("")
    return robin, kim, relay


async def pause(robin: Person, message: str) -> None:
    await robin.page.get_by_role("button", name="Pause…").click()
    dialog = robin.page.get_by_role("dialog", name="Pause the group")
    await dialog.get_by_label("A message for everyone (optional)").fill(message)
    await dialog.get_by_role("button", name="Pause").click()
    await expect(robin.page.locator(".banner")).to_contain_text(f"Paused: {message}")


def no_console_errors(person: Person, server: LiveServer) -> None:
    before_signing_in = f"status of 401 (Unauthorized) ({server.base}/api/auth/me)"
    errors = person.console.unexpected([before_signing_in])
    assert not errors, "console errors:\n" + "\n".join(errors)


async def test_the_composer_says_why_it_is_off_as_the_server_tells_it(
    browser: Browser, server: LiveServer, community: Community, people: list[Person]
) -> None:
    """Why a member can't post is the server's to say (``post_state`` notices), in the
    app's words: a pause the page has seen changes nothing until the server's notice
    comes; a code the app doesn't know shows the server's message."""
    robin, kim, relay = await robin_and_kim(browser, server, community, people)
    box = kim.page.get_by_label("Your message")
    why = kim.page.locator("#compose-why")

    # A pause, its notice to Kim held back: the room shows it, the composer waits.
    relay.held_types.add("post_state")
    await pause(robin, "Back in five minutes.")
    await expect(kim.page.locator(".banner")).to_contain_text("Paused: Back in five minutes.")
    async with asyncio.timeout(10):
        await relay.holding.wait()
    await expect(box).to_be_enabled()
    relay.release()
    await expect(why).to_have_text("The group is paused: Back in five minutes.")
    await expect(box).to_be_disabled()
    await expect(kim.page.get_by_role("button", name="Send")).to_be_disabled()
    await axe_check(kim.page, "room, paused, phone")

    await robin.page.get_by_role("button", name="Resume the group").click()
    await expect(box).to_be_enabled()
    await expect(why).to_have_text("")

    # The server's words for a reason this app doesn't know yet; then free again.
    relay.inject({"type": "post_state", "code": "brand_new", "message": "The server's own words."})
    await expect(why).to_have_text("The server's own words.")
    await expect(box).to_be_disabled()
    relay.inject({"type": "post_state", "code": None, "message": None})
    await expect(box).to_be_enabled()
    await expect(why).to_have_text("")
    no_console_errors(kim, server)


async def test_coming_back_the_composer_hears_why_from_the_resume(
    browser: Browser, server: LiveServer, community: Community, people: list[Person]
) -> None:
    """Notices aren't replayed: a member who was away while the group paused learns why
    she can't post from the resume's answer (``post``), with every notice held back."""
    robin, kim, relay = await robin_and_kim(browser, server, community, people)
    box = kim.page.get_by_label("Your message")
    why = kim.page.locator("#compose-why")

    relay.held_types.add("post_state")
    relay.refusing = True
    await relay.drop()
    await expect(kim.page.locator(".conn")).to_have_text("Reconnecting…")
    await expect(why).to_contain_text("Reconnecting…")
    await pause(robin, "Stretch your legs.")
    relay.refusing = False
    await expect(kim.page.locator(".conn")).to_be_hidden(timeout=20_000)
    await expect(why).to_have_text("The group is paused: Stretch your legs.")
    await expect(box).to_be_disabled()
    assert not relay.held  # nothing but the resume said it
    assert relay.resumed is not None
    assert relay.resumed["post"] == {"code": "paused", "message": ANY}

    # Resumed: the room says so at once, the composer opens when the server says it may.
    await robin.page.get_by_role("button", name="Resume the group").click()
    await expect(kim.page.locator(".note", has_text="The group has resumed.")).to_have_count(1)
    await expect(box).to_be_disabled()
    relay.release()
    await expect(box).to_be_enabled()
    await expect(why).to_have_text("")
    no_console_errors(kim, server)
