"""The web app sends a command again, with the same client id, when its outcome is
unknown — and the server never applies it twice. The page's WebSocket is relayed: the
first answer to a post is swapped for the `outcome_unknown` a lost Redis answer gives
(the post did land), so the app must send it again and take the repeat's answer."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from tests.browser.conftest import PHONE, Person, sign_in
from tests.live import Community, LiveServer

pytestmark = pytest.mark.integration


class LoseFirstPostAnswer:
    """Pass every frame through, but answer the first post as a lost answer would."""

    def __init__(self) -> None:
        self.posts: list[dict[str, object]] = []  # every post the page sent
        self.answers: list[dict[str, object]] = []  # the server's answers to them
        self.answered = asyncio.Event()

    def route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "post":
                self.posts.append(frame)
            server.send(message)

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            ids = {p["id"] for p in self.posts}
            if frame.get("type") in ("reply", "error") and frame.get("id") in ids:
                self.answers.append(frame)
                if len(self.answers) == 1:  # it landed; the page is told it may not have
                    frame = {
                        "type": "error", "id": frame["id"], "code": "outcome_unknown",
                        "message": "We couldn't tell whether that went through.",
                        "detail": {"retry_after": 1},
                    }  # fmt: skip
                    ws.send(json.dumps(frame))
                    return
                self.answered.set()
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)


async def test_a_post_whose_outcome_is_unknown_is_sent_again_and_shown_once(
    browser: Browser, server: LiveServer, community: Community, people: list[Person]
) -> None:
    await community.person("robin", "Robin", "facilitator")
    await community.room("robin", [], name="Quiet room")
    robin: Person = await sign_in(browser, server, people, "robin", PHONE)
    relay = LoseFirstPostAnswer()
    await robin.context.route_web_socket(re.compile(r"/ws$"), relay.route)
    await robin.page.get_by_role("link", name="Join Quiet room").click()
    box = robin.page.get_by_label("Your message")
    await box.fill("I made it through the week.")
    await robin.page.get_by_role("button", name="Send").click()
    async with asyncio.timeout(15):
        await relay.answered.wait()

    first, again = relay.posts[0], relay.posts[1]
    assert len(relay.posts) == 2  # sent once more, no more
    assert again["cid"] == first["cid"] is not None  # the same client id
    assert again["id"] != first["id"]
    assert relay.answers[0].get("ok") is True  # it had landed the first time
    assert relay.answers[1].get("repeated") is True  # the repeat changed nothing
    assert relay.answers[1]["message"] == relay.answers[0]["message"]
    await expect(robin.messages("I made it through the week.")).to_have_count(1)
    await expect(box).to_have_value("")  # the composer knows it went through
    await expect(robin.page.locator("#compose-why")).to_have_text("")  # no refusal shown
