"""A creator's bank account in the portal, in headless Chromium against the whole stack:
a mistyped IBAN is explained; the right one sends a mail (a real SMTP server) whose link
opens the portal with the code filled in; once confirmed, a payout run's transfer shows
on its way to the bank, and the period's statement shows and downloads as CSV."""

import asyncio
import csv
import io
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e.browser import Traffic, assert_accessible, screenshot, sign_in
from tests.e2e.marketplace import buy, funded_buyer, listed_work, quote_for, register
from tests.e2e.payouts import ME, payout_run
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.smtp import MailServer, text_of
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack


async def test_a_creator_adds_a_bank_account_confirms_it_from_the_mail_and_is_paid(
    portal: tuple[Page, Traffic],
    gateway: GraphQLClient,
    running_stack: RunningStack,
    smtp_server: MailServer,
) -> None:
    page, _ = portal
    _, creator = await register(gateway, "CREATOR", "Carla Mendes")
    email = (await gateway.execute(ME, key=creator))["me"]["email"]
    await sign_in(page, creator)
    await expect(page.locator("#payout-account-text")).to_contain_text(
        "You have no confirmed bank account yet"
    )

    # A mistyped IBAN: the bank's own rule, in words, and nothing sent.
    await page.get_by_label("Account holder").fill("Carla Mendes")
    await page.get_by_label("IBAN").fill("DE02 1203 0000 0000 2020 52")
    await page.get_by_label("BIC (the bank's code, 8 or 11 characters)").fill("BYLADEM1001")
    await page.get_by_role("button", name="Send me a confirmation code").click()
    await expect(page.locator("#alert")).to_contain_text("not a valid IBAN")
    await expect(page.locator("#payout-iban-error")).to_contain_text("not a valid IBAN")
    await expect(page.get_by_label("IBAN")).to_be_focused()
    await expect(page.locator("#payout-confirm-form")).to_be_hidden()

    await page.get_by_label("IBAN").fill("DE02 1203 0000 0000 2020 51")
    await page.get_by_role("button", name="Send me a confirmation code").click()
    await expect(page.get_by_role("status")).to_contain_text("A confirmation code is on its way")
    await expect(page.locator("#payout-pending-text")).to_contain_text("DE02 •••• 2051")
    mail = await asyncio.to_thread(smtp_server.wait_for, email)
    link = re.search(r"(http\S+#payout-confirm/\S+)", text_of(mail))
    assert link is not None
    await screenshot(page, "09-payout-account-pending")
    await assert_accessible(page, "09-payout-account-pending")

    # The link in the mail, opened in a new tab as a mail program opens it.
    tab = await page.context.new_page()
    await tab.goto(link.group(1))
    await sign_in(tab, creator)
    await expect(tab.get_by_label("Code from the mail")).not_to_have_value("")
    await tab.get_by_role("button", name="Confirm this account").click()
    await expect(tab.get_by_role("status")).to_contain_text("Confirmed: payouts from now on go")
    await expect(tab.locator("#payout-account-text")).to_contain_text(
        "Your earnings are paid to Carla Mendes, IBAN DE02 •••• 2051 (BYLADEM1001)."
    )

    # A sale, a payout run, and the transfer on its way.
    work = await listed_work(gateway, creator, price=2_000, title="Carla's tide")
    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Carla's Lab", 10_000)
    await buy(gateway, lab, (await quote_for(gateway, lab, [work]))["id"])
    await payout_run(gateway, running_stack.admin_key)
    await tab.get_by_role("button", name="Refresh payouts").click()
    transfer = tab.locator("#payouts-table tbody tr")
    await expect(transfer).to_contain_text("€17.00")
    await expect(transfer).to_contain_text("On its way to your bank")
    await tab.locator("#payouts-section").scroll_into_view_if_needed()
    await screenshot(tab, "10-payout-on-its-way")
    await assert_accessible(tab, "10-payout-on-its-way")

    # The statement: the sale and the payout, nothing owed now, and the same as CSV.
    await tab.get_by_role("button", name="Show the statement").click()
    statement = tab.locator("#statement-table tbody")
    await expect(statement).to_contain_text("Carla's tide, to Carla's Lab")
    await expect(statement).to_contain_text("Payout")
    await expect(tab.locator("#statement-balances")).to_contain_text("Now: €0.00.")
    async with tab.expect_download() as downloading:
        await tab.get_by_role("link", name="Download the statement as CSV").click()
    saved = await (await downloading.value).path()
    text = await asyncio.to_thread(Path(saved).read_text)
    rows = list(csv.reader(io.StringIO(text)))
    await tab.close()

    assert rows[0][:3] == ["date", "kind", "work"]
    amount = rows[0].index("your amount")
    assert [(row[1], row[amount]) for row in rows[1:]] == [
        ("sale", "17.00"),
        ("payout", "-17.00"),
        ("opening balance", "0.00"),
        ("closing balance", "0.00"),
    ]
