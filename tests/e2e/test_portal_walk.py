"""The whole path of a creator's account, in headless Chromium against the whole stack,
each step photographed at 390 px and 1280 px and checked with axe-core: an illustrator
signs up, confirms the address from the mail a real SMTP server received, signs in and
lists an image with the keyboard alone and invites a co-creator by email from its page;
the co-creator signs up from the invitation's mail link, accepts and consents; a lab buys through the SDK; both creators see the sale with their
net share and a notification; an admin runs a payout; the statement PDF's totals match
the ledger; a password reset works and ends the session signed in before it.

Where the portal has no control for a step, the step takes the closest real path:
- the owner's payout account is confirmed from its mailed code through the API, and the
  payout run is started by the admin through the API, as tests/e2e/payouts.py does.
"""

import asyncio
import os
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    expect,
)

from assent.client import AssentClient
from assent.models import Purchase
from tests.e2e.browser import (
    ARTEFACTS,
    WAIT_MS,
    assert_accessible,
    download_statement_pdf,
    keyboard_consent_and_offer,
    keyboard_file_chooser,
    open_work,
    tab_to,
)
from tests.e2e.marketplace import BALANCES, funded_buyer
from tests.e2e.notifications import notified
from tests.e2e.payouts import confirmed_payout_account, payout_run, payouts_of
from tests.fixtures.faults import eventually
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.smtp import MailServer, text_of
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PASSWORD = "seven long words of mine"
NEW_PASSWORD = "another seven long words"
# The background workers (mail, outboxes) run beside other work: generous waits.
MAIL_SECONDS = 120.0

MY_ID = "{ me { ... on Account { id } } }"
MY_WORKS = """{ works(filter: {mine: true}, first: 50) { ... on WorkConnection {
  items { id title } } } }"""
LISTED = """query($id: ID!) { work(id: $id) { ... on Work { listed } } }"""


async def snap(page: Page, name: str) -> None:
    """The page as it stands, at a phone's width and a desktop's, checked with axe-core."""
    for size in (PHONE, DESKTOP):
        await page.set_viewport_size(size)
        await page.screenshot(path=ARTEFACTS / f"walk-{name}-{size['width']}.png", full_page=True)
    await assert_accessible(page, name)


@dataclass
class People:
    """Each person's own browser on the stack's portal; a script error on any page fails
    the test."""

    browser: Browser
    base_url: str
    contexts: list[BrowserContext] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def page(self) -> Page:
        context = await self.browser.new_context(base_url=self.base_url, viewport=DESKTOP)
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        await page.goto("/portal/")
        return page


@pytest.fixture
async def people(browser: Browser, running_stack: RunningStack) -> AsyncIterator[People]:
    found = People(browser, running_stack.stack.gateway_url)
    yield found
    for context in found.contexts:
        await context.close()
    assert not found.errors, f"a page raised: {found.errors}"


async def mailed_link(smtp: MailServer, email: str, fragment: str) -> str:
    mail = await asyncio.to_thread(smtp.wait_for, email, fragment, MAIL_SECONDS)
    found = re.search(rf"(http\S+{re.escape(fragment)}\S*)", text_of(mail))
    assert found is not None, text_of(mail)
    return found.group(1)


async def keyboard_sign_in(page: Page, email: str, password: str) -> None:
    keys = page.keyboard
    await tab_to(page, page.locator("#sign-in-email"))
    await keys.type(email)
    await tab_to(page, page.locator("#sign-in-password"))
    await keys.type(password)
    await keys.press("Enter")


async def keyboard_listing(page: Page, picture: Path, title: str, price: str) -> None:
    """Upload, consent and offer with the keyboard alone, as test_portal_forms does."""
    keys = page.keyboard
    await (await keyboard_file_chooser(page)).set_files(picture)
    await tab_to(page, page.get_by_label("Title"))
    await keys.press("Control+a")
    await keys.type(title)
    await keys.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text(
        "Next: give your consent.", timeout=3 * WAIT_MS
    )
    await keyboard_consent_and_offer(page, price)


async def payable(gateway: GraphQLClient, key: str) -> Decimal:
    """What the ledger says the creator is owed now, in euros: their payable account."""
    found = (await gateway.execute(BALANCES, {}, key=key))["balances"]["balances"]
    [owed] = [
        Decimal(b["balance"]["amountMinor"]).scaleb(-2)
        for b in found
        if b["accountKind"] == "CREATOR_PAYABLE" and b["balance"]["currency"] == "EUR"
    ]
    return owed


async def test_a_creator_walks_from_sign_up_to_a_paid_statement_and_a_password_reset(
    people: People,
    running_stack: RunningStack,
    gateway: GraphQLClient,
    smtp_server: MailServer,
    tmp_path: Path,
) -> None:
    url = running_stack.stack.gateway_url
    admin = running_stack.admin_key
    email = f"mira-{secrets.token_hex(4)}@illustration.example"
    title = f"Tideline {secrets.token_hex(2)}"
    partner_email = f"jonas-{secrets.token_hex(4)}@illustration.example"
    page = await people.page()

    # 1. Sign up.
    await page.get_by_text("New here? Create an account").click()
    await page.get_by_label("Your name, as buyers will see it").fill("Mira Okonkwo")
    await page.locator("#sign-up-email").fill(email)
    await page.locator("#sign-up-password").fill(PASSWORD)
    await page.get_by_role("button", name="Create my account").click()
    await expect(page.get_by_role("status")).to_contain_text("a mail with a link is on its way")
    await snap(page, "01-signed-up")

    # 2. The verification mail's link.
    await page.goto(await mailed_link(smtp_server, email, "#verify/"))
    await expect(page.get_by_role("status")).to_contain_text("Your email address is confirmed")
    await snap(page, "02-verified")

    # 3. Signed in with the keyboard alone.
    await keyboard_sign_in(page, email, PASSWORD)
    await expect(page.get_by_role("status")).to_have_text("Signed in as Mira Okonkwo.")
    await expect(page.get_by_text("No works yet")).to_be_visible()
    await expect(page.locator("#earnings-chart svg")).to_have_count(1)
    await snap(page, "03-signed-in")

    # 4. Listed with the keyboard alone, then shared with a co-creator.
    picture = tmp_path / "tideline.raw"
    picture.write_bytes(os.urandom(30_000))
    await keyboard_listing(page, picture, title, "10.00")
    await expect(page.locator("#works-table tbody tr", has_text=title)).to_contain_text("€10.00")
    await snap(page, "04-listed")
    await page.get_by_label("Name of the program the key is for").fill("Studio scripts")
    await page.get_by_role("button", name="Make a key").click()
    await expect(page.locator("#new-key")).to_contain_text("assent_")
    owner_key = re.search(r"assent_\S+", await page.locator("#new-key").inner_text())
    assert owner_key is not None
    owner = owner_key.group(0)
    owner_id = (await gateway.execute(MY_ID, key=owner))["me"]["id"]
    mine = (await gateway.execute(MY_WORKS, key=owner))["works"]["items"]
    [work_id] = [work["id"] for work in mine if work["title"] == title]
    # The co-creator, invited from the work's page by an address with no account yet.
    await open_work(page, title)
    await page.get_by_label("Their email address").fill(partner_email)
    await page.get_by_label("Their share, in percent").fill("30")
    await page.get_by_role("button", name="Send the invitation").click()
    await expect(page.get_by_role("status")).to_contain_text(
        f"An invitation was sent to {partner_email}."
    )

    # They sign up from the invitation's mail, confirm their address and sign in.
    partner_page = await people.page()
    await partner_page.goto(await mailed_link(smtp_server, partner_email, "#sign-up-details"))
    await expect(partner_page.get_by_label("Your name, as buyers will see it")).to_be_focused()
    await partner_page.keyboard.type("Jonas Berg")
    await partner_page.locator("#sign-up-email").fill(partner_email)
    await partner_page.locator("#sign-up-password").fill(PASSWORD)
    await partner_page.get_by_role("button", name="Create my account").click()
    await expect(partner_page.get_by_role("status")).to_contain_text(
        "a mail with a link is on its way"
    )
    await partner_page.goto(await mailed_link(smtp_server, partner_email, "#verify/"))
    await expect(partner_page.get_by_role("status")).to_contain_text(
        "Your email address is confirmed"
    )
    await partner_page.locator("#sign-in-email").fill(partner_email)
    await partner_page.locator("#sign-in-password").fill(PASSWORD)
    await partner_page.locator("#sign-in-password").press("Enter")
    await expect(partner_page.get_by_role("status")).to_have_text("Signed in as Jonas Berg.")
    await open_work(partner_page, title)
    # A camera's raw file: no picture, and the caption says so in a sentence of its own.
    await expect(partner_page.locator("#preview-caption")).to_contain_text(
        re.compile(r"KiB\. No preview for this format\.$")
    )
    await expect(partner_page.locator("#invitation-text")).to_contain_text(
        re.compile(r"with a 30\s?% share")
    )
    await snap(partner_page, "05-invited")
    await partner_page.get_by_role("button", name="Accept my share").click()
    await expect(partner_page.get_by_role("status")).to_contain_text(
        f'You accepted your share of "{title}". Next: give your consent.'
    )
    await partner_page.locator("#consent-uses").get_by_label("Training new AI models").check()
    await partner_page.get_by_label("I own or control the rights in this work").check()
    await partner_page.get_by_label("I have read this statement and I agree to it").check()
    await partner_page.get_by_role("button", name="Give consent").click()
    await expect(partner_page.get_by_role("status")).to_contain_text(
        f'Consent recorded for "{title}"'
    )
    await snap(partner_page, "06-co-creator-consented")

    async def listed() -> bool | None:
        work = (await gateway.execute(LISTED, {"id": work_id}, key=owner))["work"]
        return True if work["listed"] else None

    await eventually(listed, what="the shared work back on sale")

    # 5. A lab buys through the SDK.
    _, lab = await funded_buyer(gateway, admin, "Tide Lab", 10_000)

    def bought() -> Purchase:
        with AssentClient(url, lab) as client:
            return client.buy([work_id], uses=["training"], name="tides")

    purchase = await asyncio.to_thread(bought)
    assert purchase.total.amount_minor == 1_000

    # 6. Both creators see the sale, their net shares and a notification.
    # Each creator's notification is written with the other's, from the one sale.
    assert await notified(gateway, owner, "SALE", within=MAIL_SECONDS), "no sale notification"
    for who, viewer, amount in (("owner", page, "€5.95"), ("co-creator", partner_page, "€2.55")):
        await viewer.reload()  # a session, or the key kept with the tab: signed in at once
        await expect(viewer.get_by_role("status")).to_contain_text("Signed in as")
        await expect(viewer.locator("#notifications-list")).to_contain_text(f"“{title}” licensed")
        await expect(viewer.locator("#notifications-bell")).to_contain_text("unread")
        await viewer.get_by_role("button", name="Show the statement").click()
        sale = viewer.locator("#statement-table tbody tr", has_text=title)
        await expect(sale.locator("td[data-label='Price']")).to_have_text("€10.00")
        await expect(sale.locator("td[data-label='Platform fee']")).to_have_text("€1.50")
        net = sale.locator("td[data-label='Net, per co-creator']")
        await expect(net).to_contain_text("€8.50 in all:")
        await expect(net).to_contain_text(re.compile(r"Mira Okonkwo \(70\s?%\): €5\.95"))
        await expect(net).to_contain_text(re.compile(r"Jonas Berg \(30\s?%\): €2\.55"))
        await expect(sale.locator("td[data-label='Your amount']")).to_have_text(amount)
        await viewer.locator("#earnings-section").scroll_into_view_if_needed()
        await snap(viewer, f"07-sale-{who}")

    # 7. An admin runs a payout to the creators' confirmed accounts.
    await confirmed_payout_account(
        gateway, smtp_server, owner, "Mira Okonkwo", "DE02120300000000202051", "BYLADEM1001"
    )
    await payout_run(gateway, admin)
    [payment] = await payouts_of(gateway, admin, owner_id)
    assert payment["amount"]["amountMinor"] == 595
    await page.get_by_role("button", name="Refresh payouts").click()
    transfer = page.locator("#payouts-table tbody tr")
    await expect(transfer).to_contain_text("€5.95")
    await expect(transfer).to_contain_text("On its way to your bank")
    await page.locator("#payouts-section").scroll_into_view_if_needed()
    await snap(page, "08-payout")

    # 8. The statement as PDF, downloaded from the portal: its lines and its closing
    # balance are the ledger's.
    statement = await download_statement_pdf(page)
    owed = await payable(gateway, owner)
    assert statement.filename.endswith(".pdf")
    assert re.search(
        rf"{re.escape(title)} Tide Lab training 10\.00 EUR 1\.50 70% 5\.95 EUR", statement.text
    ), statement.text
    assert f"payout run {payment['runId']} 5.95 EUR" in statement.text
    assert f"Closing, EUR {owed:.2f}" in statement.text
    await snap(page, "09-statement")

    # 9. A password reset, from another device: the new password works, the old session ends.
    other = await people.page()
    await other.get_by_text("Forgot your password?").click()
    await other.locator("#forgot-email").fill(email)
    await other.get_by_role("button", name="Mail me a link").click()
    await expect(other.get_by_role("status")).to_contain_text("a mail with a link is on its way")
    await other.goto(await mailed_link(smtp_server, email, "#reset/"))
    await other.get_by_label("New password").fill(NEW_PASSWORD)
    await other.get_by_role("button", name="Set my new password").click()
    await expect(other.get_by_role("status")).to_contain_text("Your new password is set")
    await snap(other, "10-password-reset")
    await keyboard_sign_in(other, email, NEW_PASSWORD)
    await expect(other.get_by_role("status")).to_have_text("Signed in as Mira Okonkwo.")
    await page.reload()
    await expect(page.locator("#sign-in-section")).to_be_visible()
    await snap(page, "11-old-session-ended")
