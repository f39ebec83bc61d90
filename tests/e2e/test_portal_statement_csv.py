"""A creator downloads a period's statement as CSV from the portal, in headless Chromium
against the whole stack: a sale and a refunded sale, each line's net after the platform's
fee, the refund's reason in the words the statement table shows, and every row, header
first, the same as the lab client's `statement_csv` of the same period."""

import asyncio
import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from assent.client import AssentClient
from assent.statements import statement_csv
from tests.e2e.browser import Traffic, sign_in
from tests.e2e.marketplace import buy, funded_buyer, listed_work, quote_for, register
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

REFUND = """mutation($id: ID!, $reason: String!) { refundLicence(licenceId: $id, reason: $reason) {
  __typename } }"""
# What the API says of a refund the marketplace made with this note: the portal's words.
REFUNDED = "The marketplace refunded the buyer: a duplicate order"


async def test_the_portals_csv_has_the_net_and_the_refunds_reason_as_the_sdks_does(
    portal: tuple[Page, Traffic], gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    page, _ = portal
    _, creator = await register(gateway, "CREATOR", "Marta Silva")
    kept = await listed_work(gateway, creator, price=2_000, title="Alfama stairs")
    returned = await listed_work(gateway, creator, price=1_000, title="Alfama, washing lines")
    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Hill Lab", 10_000)
    await buy(gateway, lab, (await quote_for(gateway, lab, [kept]))["id"])
    licence = await buy(gateway, lab, (await quote_for(gateway, lab, [returned]))["id"])
    answer = await gateway.execute(
        REFUND, {"id": licence["id"], "reason": "a duplicate order"}, key=running_stack.admin_key
    )
    assert answer["refundLicence"]["__typename"] == "LicenceRefunded", answer

    await sign_in(page, creator)
    await page.get_by_role("button", name="Show the statement").click()
    await expect(page.locator("#statement-table tbody")).to_contain_text(REFUNDED)
    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Download the statement as CSV").click()
    saved = await (await downloading.value).path()
    table = list(csv.reader(io.StringIO(await asyncio.to_thread(Path(saved).read_text))))

    header = table[0]
    assert header[5:9] == ["price", "platform fee", "net after fee", "share %"]
    assert header[-1] == "refund reason"
    rows = [dict(zip(header, row, strict=True)) for row in table[1:]]
    assert [(row["kind"], row["work"]) for row in rows] == [
        ("sale", "Alfama stairs"),
        ("sale", "Alfama, washing lines"),
        ("refund", "Alfama, washing lines"),
        ("opening balance", ""),
        ("closing balance", ""),
    ], table
    sale, _, refund, _, closing = rows
    # 20.00 less the 15 % fee; the refund names the 8.50 net of the sale it reverses.
    assert (Decimal(sale["net after fee"]), sale["refund reason"]) == (Decimal("17.00"), "")
    assert Decimal(refund["net after fee"]) == Decimal("8.50")
    assert Decimal(refund["your amount"]) == Decimal("-8.50")
    assert refund["refund reason"] == REFUNDED
    assert Decimal(closing["your amount"]) == Decimal("17.00")

    # The lab client's CSV of the same statement: the same header and the same rows.
    with AssentClient(running_stack.stack.gateway_url, creator) as client:
        statement = await asyncio.to_thread(client.statements.fetch)
    assert list(csv.reader(io.StringIO(statement_csv(statement)))) == table
