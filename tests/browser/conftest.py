"""Real-browser tests: Playwright driving Debian's Chromium, with axe-core for accessibility.

``make test`` installs both: ``scripts/ensure-browser`` puts Debian's ``chromium`` at
``/usr/bin/chromium`` and ``npm ci --prefix tests/browser`` installs the pinned axe-core.
Playwright never downloads a browser of its own here.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Locator,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from tests.live import PASSWORD, LiveServer

CHROMIUM = Path("/usr/bin/chromium")
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"

# Impacts axe ranks as minor < moderate < serious < critical: every one fails a test.
FAILING_IMPACTS = frozenset({"minor", "moderate", "serious", "critical"})
TARGETS_SHOWN = 3


def _chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run ./scripts/ensure-browser (make test does)")
    return CHROMIUM


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless Chromium of its own for each test.

    Function scope on purpose: the tests' event loops are per test, and Playwright's
    connection belongs to the loop that started it. Starting Playwright and Chromium
    takes under a second.
    """
    executable = _chromium()
    # Chromium refuses to start its sandbox as root.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    playwright = await async_playwright().start()
    try:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=args
        )
        try:
            yield launched
        finally:
            await launched.close()
    finally:
        await playwright.stop()


@dataclass
class ConsoleWatch:
    """Console messages of type "error" and uncaught page errors, as readable lines."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            url = message.location.get("url", "")
            self.errors.append(f"console: {message.text}" + (f" ({url})" if url else ""))

    def on_page_error(self, error: Error) -> None:
        self.errors.append(f"pageerror: {error.name}: {error.message}")

    def unexpected(self, allowed: Iterable[str] = ()) -> list[str]:
        """The errors not containing any of the ``allowed`` substrings."""
        allow = list(allowed)
        return [line for line in self.errors if not any(a in line for a in allow)]


def watch_console(page: Page) -> ConsoleWatch:
    """Start collecting ``page``'s console errors; call before navigating."""
    watch = ConsoleWatch()
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_page_error)
    return watch


@functools.cache
def _axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run npm ci --prefix tests/browser (make test does)")
    return AXE.read_text(encoding="utf-8")


_RUN_AXE = """async () => {
  const results = await axe.run(document, { resultTypes: ["violations"] });
  const selector = (target) => (Array.isArray(target) ? target.join(" >>> ") : String(target));
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    helpUrl: v.helpUrl,
    targets: v.nodes.map((node) => node.target.map(selector).join(" ")),
  }));
}"""


async def axe_check(page: Page, screen: str) -> None:
    """Fail the test if axe-core finds a violation of any impact on ``page``.

    axe is injected with ``page.evaluate`` (the devtools protocol), not a ``<script>``
    tag: the app's Content-Security-Policy rightly refuses inline scripts, and an
    evaluation from the devtools protocol is not subject to it.
    """
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(_axe_source())
    violations: list[dict[str, Any]] = await page.evaluate(_RUN_AXE)
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    if not failing:
        return
    lines = [f"axe: {len(failing)} violation(s) on the {screen} screen:"]
    for v in failing:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        targets = v["targets"]
        for target in targets[:TARGETS_SHOWN]:
            lines.append(f"    {target}")
        if len(targets) > TARGETS_SHOWN:
            lines.append(f"    … and {len(targets) - TARGETS_SHOWN} more")
    pytest.fail("\n".join(lines), pytrace=False)


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as ``test-artifacts/screenshots/<name>.png`` and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=path, full_page=True)
    return path


# -- people in the browser ----------------------------------------------------------

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 360, "height": 740}
# A 1280×800 window at 200 % zoom lays the page out at half its size.
ZOOMED: ViewportSize = {"width": 640, "height": 400}


@dataclass
class Person:
    """One person's own browser context (their cookies, their tab)."""

    context: BrowserContext
    page: Page
    console: ConsoleWatch

    def messages(self, text: str) -> Locator:
        return self.page.locator(".messages li.message", has_text=text)


@pytest.fixture
async def people(browser: Browser) -> AsyncIterator[list[Person]]:
    """The people a test signs in; their contexts close at the end."""
    made: list[Person] = []
    yield made
    for person in made:
        await person.context.close()


async def sign_in(
    browser: Browser,
    server: LiveServer,
    people: list[Person],
    username: str,
    viewport: ViewportSize,
    scheme: Literal["light", "dark"] = "light",
) -> Person:
    context = await browser.new_context(viewport=viewport, color_scheme=scheme)
    context.set_default_timeout(10_000)  # a step that can't happen fails in seconds, not 30
    page = await context.new_page()
    person = Person(context, page, watch_console(page))
    people.append(person)
    await page.goto(server.base + "/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="My groups")).to_be_visible()
    return person


async def dialog_submit(page: Page, button: str, **fields: str) -> None:
    """Fill the open dialog's fields by label (underscores for spaces) and submit it."""
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    for label, value in fields.items():
        control = dialog.get_by_label(label.replace("_", " "))
        if await control.evaluate("el => el.tagName") == "SELECT":
            await control.select_option(value)
        else:
            await control.fill(value)
    await dialog.get_by_role("button", name=button).click()
    await expect(dialog).to_be_hidden()


async def act_on(page: Page, name: str, action: str) -> None:
    """Use a facilitator's tool on a person ("Mute", "Remove", …) from the group panel."""
    actions = page.get_by_role("button", name=f"{name}: Actions")
    if await actions.get_attribute("aria-expanded") != "true":
        await actions.click()
    await (
        page.get_by_role("group", name=f"Actions for {name}")
        .get_by_role("button", name=f"{action} {name}")
        .click()
    )


async def open_panel(page: Page) -> None:
    """The group panel: a column on a wide screen, behind the "Group" button on a narrow one."""
    toggle = page.locator(".drawer-toggle")
    if await toggle.is_visible() and await toggle.get_attribute("aria-expanded") != "true":
        await toggle.click()
    await expect(page.locator(".side")).to_be_visible()


async def close_panel(page: Page) -> None:
    """Back to the conversation from the group panel, where it covers it (a phone)."""
    close = page.locator(".drawer-close")
    if await close.is_visible():
        await close.click()
