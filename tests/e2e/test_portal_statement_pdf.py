"""A creator downloads a period's statement as a PDF from the portal, in headless Chromium
against the whole stack: signed in with an email and password (the session cookie and
its CSRF token) and with an API key, the button beside the CSV reached and pressed from
the keyboard, and the file's words read back with pypdf: the work, the buyer and the
totals the ledger holds.

`download_statement_pdf(page, since=..., until=...)` is the one step, for any browser test
with a creator signed in on the earnings page."""

import asyncio
import re
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e.browser import (
    Traffic,
    assert_accessible,
    download_statement_pdf,
    pdf_words,
    screenshot,
    sign_in,
)
from tests.e2e.marketplace import buy, funded_buyer, listed_work, quote_for, register
from tests.e2e.payouts import ME
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.smtp import MailServer, text_of
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

PASSWORD = "a statement to print and keep"
CLOSING = """query($since: DateTime) { earnings(since: $since) { __typename
  ... on Earnings { closing { amountMinor currency } } } }"""


async def _reset_link(smtp: MailServer, email: str) -> str:
    mail = await asyncio.to_thread(smtp.wait_for, email, "#reset/")
    found = re.search(r"(http\S+#reset/\S+)", text_of(mail))
    assert found is not None
    return found.group(1)


async def _a_sale(gateway: GraphQLClient, running_stack: RunningStack, creator: str) -> str:
    """The creator's work sold for €20.00: €3.00 the platform's fee, €17.00 theirs."""
    title = f"Lisbon tram at dusk {uuid.uuid4().hex[:4]}"
    work = await listed_work(gateway, creator, price=2_000, title=title)
    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Tram Lab", 10_000)
    await buy(gateway, lab, (await quote_for(gateway, lab, [work]))["id"])
    return title


async def test_a_creator_signed_in_with_a_password_downloads_the_statement_as_a_pdf(
    portal: tuple[Page, Traffic],
    gateway: GraphQLClient,
    running_stack: RunningStack,
    smtp_server: MailServer,
) -> None:
    page, traffic = portal
    _, creator = await register(gateway, "CREATOR", "Rita Sousa")
    email = (await gateway.execute(ME, key=creator))["me"]["email"]
    title = await _a_sale(gateway, running_stack, creator)
    # A password for the account, from a reset link, and a session cookie from it.
    await page.get_by_text("Forgot your password?").click()
    await page.locator("#forgot-email").fill(email)
    await page.get_by_role("button", name="Mail me a link").click()
    await page.goto(await _reset_link(smtp_server, email))
    await page.get_by_label("New password").fill(PASSWORD)
    await page.get_by_role("button", name="Set my new password").click()
    await expect(page.get_by_role("status")).to_contain_text("Your new password is set")
    await page.locator("#sign-in-email").fill(email)
    await page.locator("#sign-in-password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in with email").click()
    await expect(page.get_by_role("status")).to_have_text("Signed in as Rita Sousa.")
    yesterday = (date.today() - timedelta(days=1)).isoformat()

    await page.locator("#statement-since").fill(yesterday)
    await page.get_by_role("button", name="Show the statement").click()
    await expect(page.locator("#statement-table tbody")).to_contain_text(title)
    await assert_accessible(page, "statement-with-pdf")
    await screenshot(page, "statement-with-pdf")
    # From the keyboard: the button comes right after the CSV link, and Enter presses it.
    await page.get_by_role("link", name="Download the statement as CSV").focus()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Download PDF")).to_be_focused()
    async with page.expect_download() as downloading:
        await page.keyboard.press("Enter")
    download = await downloading.value
    body = await asyncio.to_thread(Path(await download.path()).read_bytes)
    text = await asyncio.to_thread(pdf_words, body)

    assert body.startswith(b"%PDF-")
    assert download.suggested_filename == f"assent-statement-{yesterday}-now.pdf"
    assert f"period {yesterday} to now" in text
    assert title in text
    assert "Tram Lab" in text
    assert "20.00 EUR 3.00 100% 17.00 EUR" in text
    # The closing balance is the ledger's, as `earnings` gives it.
    answered = await gateway.execute(CLOSING, {"since": f"{yesterday}T00:00:00Z"}, key=creator)
    [closing] = answered["earnings"]["closing"]
    assert (closing["amountMinor"], closing["currency"]) == (1_700, "EUR")
    assert "Closing, EUR 17.00" in text
    # Asked for with the session's CSRF token, as every call of the page is.
    [asked] = [r for r in traffic.requests if "/portal/statement.pdf" in r.url]
    assert await asked.header_value("x-csrf-token")


async def test_a_creator_signed_in_with_a_key_downloads_an_empty_period_in_words(
    portal: tuple[Page, Traffic], gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    page, traffic = portal
    _, creator = await register(gateway, "CREATOR", "Joana Reis")
    title = await _a_sale(gateway, running_stack, creator)
    await sign_in(page, creator)

    everything = await download_statement_pdf(page)
    before = await download_statement_pdf(page, until="2020-01-01")

    assert everything.filename == "assent-statement-start-now.pdf"
    assert title in everything.text
    assert "Closing, EUR 17.00" in everything.text
    assert before.filename == "assent-statement-start-2020-01-01.pdf"
    assert title not in before.text
    assert "period from the first sale to 2020-01-01" in before.text
    # The key went as it goes to GraphQL: in the Authorization header, never in the URL.
    asked = [r for r in traffic.requests if "/portal/statement.pdf" in r.url]
    assert len(asked) == 2
    for request in asked:
        assert await request.header_value("authorization") == f"Bearer {creator}"
        assert creator not in request.url
