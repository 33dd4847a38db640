"""The web app's shell in a real browser: strict CSP, a clean console, accessible."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.browser.conftest import axe_check, screenshot, watch_console
from tests.live import LiveServer

pytestmark = pytest.mark.integration


def allowed_errors(base: str) -> list[str]:
    """Console errors this test expects, as substrings of the collected lines.

    A signed-out visitor's "who am I?" probe answers 401, and Chromium logs every
    failed fetch as a console error.
    """
    return [f"status of 401 (Unauthorized) ({base}/api/auth/me)"]


@pytest.mark.parametrize(
    ("name", "width", "height"),
    [("shell-desktop", 1280, 800), ("shell-360", 360, 740)],
)
async def test_shell_loads_under_a_strict_policy(
    browser: Browser, server: LiveServer, name: str, width: int, height: int
) -> None:
    context = await browser.new_context(viewport={"width": width, "height": height})
    try:
        page = await context.new_page()
        console = watch_console(page)
        response = await page.goto(server.base + "/")
        assert response is not None
        assert response.status == 200
        await page.wait_for_load_state("networkidle")

        # The shell's own <title> is "Holdspace"; once the app routes, each screen
        # names itself first ("Sign in — Holdspace").
        title = await page.title()
        assert title == "Holdspace" or title.endswith(" — Holdspace"), title
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        errors = console.unexpected(allowed_errors(server.base))
        assert not errors, "console errors:\n" + "\n".join(errors)

        await axe_check(page, "shell")
        path = await screenshot(page, name)
        assert path.stat().st_size > 0
    finally:
        await context.close()


@pytest.mark.parametrize(
    ("planted", "found"),
    [
        # A nameless button (critical).
        ("document.getElementById('main').append(Object.assign("
         "document.createElement('button'), { id: 'planted' }))", r"button-name \(critical\)"),
        # Text outside every landmark (moderate): no impact is let through.
        ("document.body.append(Object.assign("
         "document.createElement('p'), { id: 'planted', textContent: 'Stray words' }))",
         r"region \(moderate\)"),
    ],
)  # fmt: skip
async def test_axe_check_fails_on_a_violation_of_any_impact(
    browser: Browser, server: LiveServer, planted: str, found: str
) -> None:
    """axe really runs under the app's CSP, and any violation fails the check."""
    page = await browser.new_page()
    await page.goto(server.base + "/")
    await page.wait_for_load_state("networkidle")
    await axe_check(page, "shell")  # clean as served
    await page.evaluate(f"() => {planted}")
    with pytest.raises(pytest.fail.Exception, match=found) as failed:
        await axe_check(page, "shell")
    assert "#planted" in str(failed.value)
