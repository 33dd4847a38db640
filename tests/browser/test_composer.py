"""The composer keeps what someone is typing: a reply to the previous message, arriving
late, must not wipe the next one. The reply is held back on its way to the browser
(Playwright routes the page's WebSocket) so the late arrival happens every time."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from tests.browser.conftest import DESKTOP, Person, sign_in
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
