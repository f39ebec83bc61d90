"""The portal's browser tests' shared parts: Debian's Chromium driven by Playwright, a page
on the stack's portal that fails its test on any script error, and the creator's steps
every test takes."""

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import (
    Browser,
    FileChooser,
    Locator,
    Page,
    Request,
    async_playwright,
    expect,
)
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from pypdf import PdfReader

from tests.fixtures.stack import RunningStack
from tests.fixtures.storage import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTEFACTS = REPO_ROOT / "test-artifacts" / "portal"
WAIT_MS = 20_000
# Assertions wait as long as actions do: on two loaded cores the stack behind a page may
# take longer to answer than Playwright's default 5 s.
expect.set_options(timeout=WAIT_MS)
# Deque's accessibility engine, vendored for the tests (tests/e2e/vendor/VENDORED.md).
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SEVERE = ("serious", "critical")


@dataclass
class Traffic:
    """Every request the page made, to check what crossed the wire and how."""

    requests: list[Request] = field(default_factory=list)
    failed: list[Request] = field(default_factory=list)

    def urls(self) -> list[str]:
        return [request.url for request in self.requests]

    def part_puts(self, number: int) -> list[Request]:
        return [
            request
            for request in self.requests
            if request.method == "PUT"
            and parse_qs(urlsplit(request.url).query).get("partNumber") == [str(number)]
        ]


@pytest.fixture(scope="module")
def chromium() -> Path:
    # A failure, not a skip: a machine without the browser would pass without the portal.
    if not CHROMIUM.exists():
        pytest.fail(
            f"the portal's browser tests need Debian's Chromium at {CHROMIUM}; "
            "install it with `make browser`"
        )
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


@pytest.fixture
async def portal(
    browser: Browser, running_stack: RunningStack
) -> AsyncIterator[tuple[Page, Traffic]]:
    context = await browser.new_context(
        base_url=running_stack.stack.gateway_url, viewport={"width": 1100, "height": 900}
    )
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    traffic = Traffic()
    page.on("request", lambda request: traffic.requests.append(request))
    page.on("requestfailed", lambda request: traffic.failed.append(request))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto("/portal/")
    yield page, traffic
    await context.close()
    assert not errors, f"the page raised: {errors}"


async def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    await page.screenshot(path=ARTEFACTS / f"{name}.png", full_page=full_page)


async def sign_in(page: Page, key: str) -> None:
    await page.get_by_label("API key", exact=True).fill(key)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Signed in as")


async def assert_accessible(page: Page, where: str) -> None:
    """axe-core finds no serious or critical violation on the page as it stands.

    The script goes in through the debugging protocol (`evaluate`) rather than a script
    tag: the portal's Content-Security-Policy rightly refuses inline scripts, and the test
    must not weaken it to look.
    """
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = await page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
            }));
        }"""
    )
    severe = [v for v in violations if v["impact"] in SEVERE]
    assert not severe, f"accessibility violations on {where}: {severe}"


async def open_work(page: Page, title: str) -> None:
    await page.locator("#works-table").get_by_role("button", name=title).click()
    await expect(page.locator("#work-heading")).to_have_text(title)


async def tab_to(page: Page, target: Locator, most: int = 120) -> None:
    """Tab forward, as a keyboard user does, until `target` has focus."""
    for _ in range(most):
        if await target.evaluate("element => element === document.activeElement"):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"{target} never took focus by Tab")


async def keyboard_consent_and_offer(page: Page, price: str) -> None:
    """On a work's page just uploaded: consent to training and offer it at `price`, with
    the keyboard alone."""
    keys = page.keyboard
    for label in (
        page.locator("#consent-uses").get_by_label("Training new AI models"),
        page.get_by_label("I own or control the rights in this work"),
        page.get_by_label("I have read this statement and I agree to it"),
    ):
        await tab_to(page, label)
        await keys.press("Space")
        await expect(label).to_be_checked()
    await tab_to(page, page.get_by_role("button", name="Give consent"))
    await keys.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text("Next: set an offer.")
    await expect(page.get_by_label("Price")).to_be_focused()
    await keys.type(price)
    await keys.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text("It is for sale now.")


@dataclass(frozen=True)
class StatementPdf:
    """A statement PDF as the browser saved it."""

    filename: str
    body: bytes
    text: str
    """Every page's words, one space apart (a table cell wraps its lines)."""


def pdf_words(body: bytes) -> str:
    pages = PdfReader(io.BytesIO(body)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


async def download_statement_pdf(page: Page, *, since: str = "", until: str = "") -> StatementPdf:
    """Shows the statement of `[since, until)` (days as `YYYY-MM-DD`; empty for "from the
    first sale" and "until now") on the earnings page, then presses *Download PDF*: the
    file the browser saved, and its words."""
    await page.locator("#statement-since").fill(since)
    await page.locator("#statement-until").fill(until)
    await page.get_by_role("button", name="Show the statement").click()
    # The button downloads the period on show: wait until it is this one.
    balances = page.locator("#statement-balances")
    await expect(balances).to_contain_text(f"on {since}:" if since else "before your first sale")
    await expect(balances).to_contain_text(f"On {until}:" if until else "Now:")
    button = page.get_by_role("button", name="Download PDF")
    await expect(button).to_be_visible()
    async with page.expect_download() as downloading:
        await button.click()
    download = await downloading.value
    body = await asyncio.to_thread(Path(await download.path()).read_bytes)
    text = await asyncio.to_thread(pdf_words, body)
    return StatementPdf(download.suggested_filename, body, text)


async def keyboard_file_chooser(page: Page, attempts: int = 3) -> FileChooser:
    """The system's file chooser, opened from the file field with Space. On a loaded
    machine the page may still be drawing what sign-in loads when the key goes down, and
    Chromium then opens no chooser: the keyboard user presses Space again."""
    field = page.get_by_label("File", exact=True)
    for _ in range(attempts - 1):
        await tab_to(page, field)
        try:
            async with page.expect_file_chooser(timeout=WAIT_MS / 2) as choosing:
                await page.keyboard.press("Space")
            return await choosing.value
        except PlaywrightTimeoutError:
            continue
    await tab_to(page, field)
    async with page.expect_file_chooser() as choosing:
        await page.keyboard.press("Space")
    return await choosing.value
