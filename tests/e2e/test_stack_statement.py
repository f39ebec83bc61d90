"""A creator's statement with every component in its own process: a sale, a refunded
sale, a payout, and the statement fetched through the lab client's SDK ties to the ledger,
as CSV and PDF, with each line's net after the fee and the refund's reason in words."""

import csv
import io
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from assent.client import AssentClient
from assent.statements import statement_csv, write_statement_pdf
from tests.e2e.marketplace import (
    buy,
    delivered,
    funded_buyer,
    listed_work,
    quote_for,
    register,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

PAYOUT = """mutation($owner: ID!, $reference: String!) { recordPayout(creatorId: $owner,
  amountMinor: 300, currency: "EUR", reference: $reference) { __typename } }"""
REFUND = """mutation($id: ID!, $reason: String!) { refundLicence(licenceId: $id, reason: $reason) {
  __typename } }"""
# What the API says of a refund the marketplace made with this note: the portal's words.
REFUNDED = "The marketplace refunded the buyer: the buyer asked within 14 days"


async def test_a_creators_statement_ties_sales_refunds_and_payouts_to_what_is_owed(
    running_stack: RunningStack, gateway: GraphQLClient, tmp_path: Path
) -> None:
    creator_id, creator = await register(gateway, "CREATOR", "Statement Creator")
    work = await listed_work(gateway, creator, price=2_000, title="Statement harbour")
    returned = await listed_work(gateway, creator, price=1_000, title="Statement jetty")
    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Statement Lab", 10_000)
    quote = await quote_for(gateway, lab, [work])
    await delivered(gateway, lab, (await buy(gateway, lab, quote["id"]))["id"])
    refunded = await buy(gateway, lab, (await quote_for(gateway, lab, [returned]))["id"])
    answer = await gateway.execute(
        REFUND,
        {"id": refunded["id"], "reason": "the buyer asked within 14 days"},
        key=running_stack.admin_key,
    )
    assert answer["refundLicence"]["__typename"] == "LicenceRefunded", answer
    paid = await gateway.execute(
        PAYOUT,
        {"owner": creator_id, "reference": f"sepa-{uuid.uuid4().hex[:8]}"},
        key=running_stack.admin_key,
    )
    assert paid["recordPayout"]["__typename"] == "MoneyRecorded", paid

    with AssentClient(running_stack.stack.gateway_url, creator) as client:
        statement = client.statements.fetch()

    [line] = [line for line in statement.lines if line.title == "Statement harbour"]
    [refund] = [line for line in statement.lines if line.kind == "REFUND"]
    # 2,000 less the 15 % fee, all of it this creator's.
    assert (line.price.amount_minor, line.platform_fee.amount_minor) == (2_000, 300)
    assert (line.net.amount_minor, line.amount.amount_minor) == (1_700, 1_700)
    assert line.buyer_name == "Statement Lab"
    assert line.refund_explanation is None
    assert refund.title == "Statement jetty"
    assert refund.refund_explanation == REFUNDED
    [closing] = statement.closing
    # The refund took back the jetty's 8.50 it had paid.
    assert closing.amount_minor == 1_700 + 850 - 850 - 300
    table = list(csv.reader(io.StringIO(statement_csv(statement))))
    header, rows = table[0], [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    assert header[6:8] == ["platform fee", "net after fee"]
    assert header[-1] == "refund reason"
    assert [(row["kind"], row["work"]) for row in rows] == [
        ("sale", "Statement harbour"),
        ("sale", "Statement jetty"),
        ("refund", "Statement jetty"),
        ("payout", ""),
        ("opening balance", ""),
        ("closing balance", ""),
    ], table
    sale, jetty, taken_back, payout, opening, closing_row = rows
    assert (Decimal(sale["net after fee"]), Decimal(sale["your amount"])) == (
        Decimal("17.00"),
        Decimal("17.00"),
    )
    assert Decimal(jetty["net after fee"]) == Decimal("8.50")
    # A refund line names the sale it reverses: its price, fee and net as sold.
    assert Decimal(taken_back["net after fee"]) == Decimal("8.50")
    assert Decimal(taken_back["your amount"]) == Decimal("-8.50")
    assert taken_back["refund reason"] == REFUNDED
    assert (sale["refund reason"], jetty["refund reason"], payout["refund reason"]) == ("", "", "")
    assert Decimal(payout["your amount"]) == Decimal("-3.00")
    assert (Decimal(opening["your amount"]), Decimal(closing_row["your amount"])) == (
        Decimal("0.00"),
        Decimal("14.00"),
    )
    written = write_statement_pdf(statement, tmp_path / "statement.pdf")
    text = " ".join(
        " ".join(page.extract_text().split())
        for page in PdfReader(io.BytesIO(written.path.read_bytes())).pages
    )
    assert "harbour" in text
    assert "14.00" in text
    # The PDF's lines: the net after "your amount", and the refund's reason beneath it.
    assert "Your amount Net after fee" in text
    assert "20.00 EUR 3.00 100% 17.00 EUR 17.00" in text
    assert "(refund) Statement jetty Statement Lab" in text
    assert f"-8.50 EUR 8.50 {REFUNDED}" in text
