"""Browser tests: a real ``duespark serve`` on a temporary SQLite database, driven by
Playwright through Debian's Chromium.

Without ``/usr/bin/chromium`` the tests are skipped with the reason, unless
``DUESPARK_REQUIRE_BROWSER=1`` (CI) turns the skip into a failure. The server starts once
for the module's group, with the demo account loaded (``duespark demo``) so the pages have
figures to draw; tests that tell a story of their own sign up an account of their own.
Screenshots go to ``tests/browser/artifacts/`` (not committed).

Every page a test opens comes with its console: the errors the browser reported (a
Content-Security-Policy violation is one) and the page's uncaught script errors.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    sync_playwright,
)

from tests.cli.conftest import base_environ, run_cli
from tests.cli.serving import Server, running_server
from tests.conftest import TEST_SECRET_KEY

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 375, "height": 740}
TIMEOUT_MS = 15_000
_accounts = itertools.count(1)


@dataclass
class Console:
    """What a page's browser reported: console errors and uncaught script errors."""

    errors: list[str] = field(default_factory=list)

    def record(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def csp_violations(self) -> list[str]:
        return [text for text in self.errors if "Content Security Policy" in text]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests"
    if os.environ.get("DUESPARK_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " (DUESPARK_REQUIRE_BROWSER=1 forbids skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """DueSpark serving a fresh SQLite database that holds the demo account."""
    require_chromium()
    folder = tmp_path_factory.mktemp("browser")
    environ = base_environ(
        DATABASE_URL=f"sqlite:///{folder / 'duespark.db'}",
        SECRET_KEY=TEST_SECRET_KEY,
        DUESPARK_EMAIL_URL=f"file://{folder / 'mail'}",
    )
    loaded = run_cli("demo", env=environ, cwd=folder, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    with running_server(environ, folder) as running:
        yield running


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


OpenPage = Callable[..., tuple[Page, Console]]


@pytest.fixture
def open_page(chromium: Browser, server: Server) -> Iterator[OpenPage]:
    """``open_page(viewport=..., javascript=True)``: a page in a fresh browser context
    (its own cookies) and the console it records; closed after the test."""
    contexts: list[BrowserContext] = []

    def open_one(viewport: ViewportSize = DESKTOP, javascript: bool = True) -> tuple[Page, Console]:
        context = chromium.new_context(
            viewport=viewport, base_url=server.url, java_script_enabled=javascript
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        console = Console()
        page.on("console", console.record)
        page.on("pageerror", lambda error: console.errors.append(f"page error: {error}"))
        return page, console

    yield open_one
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str) -> None:
    """The whole page. Frames below the fold are scrolled to first: Chromium paints a
    sandboxed frame only once it has been on screen."""
    ARTIFACTS.mkdir(exist_ok=True)
    frames = page.locator("iframe")
    for index in range(frames.count()):
        frames.nth(index).scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def new_email() -> str:
    return f"browser{next(_accounts)}-{os.getpid()}@example.com"
