"""A creator's statement with every component in its own process: a sale, a payout, and
the statement fetched through the lab client's SDK ties to the ledger, as CSV and PDF."""

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


async def test_a_creators_statement_ties_sales_and_payouts_to_what_is_owed(
    running_stack: RunningStack, gateway: GraphQLClient, tmp_path: Path
) -> None:
    creator_id, creator = await register(gateway, "CREATOR", "Statement Creator")
    work = await listed_work(gateway, creator, price=2_000, title="Statement harbour")
    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Statement Lab", 10_000)
    quote = await quote_for(gateway, lab, [work])
    await delivered(gateway, lab, (await buy(gateway, lab, quote["id"]))["id"])
    paid = await gateway.execute(
        PAYOUT,
        {"owner": creator_id, "reference": f"sepa-{uuid.uuid4().hex[:8]}"},
        key=running_stack.admin_key,
    )
    assert paid["recordPayout"]["__typename"] == "MoneyRecorded", paid

    with AssentClient(running_stack.stack.gateway_url, creator) as client:
        statement = client.statements.fetch()

    [line] = statement.lines
    # 2,000 less the 15 % fee, all of it this creator's.
    assert (line.price.amount_minor, line.platform_fee.amount_minor) == (2_000, 300)
    assert line.amount.amount_minor == 1_700
    assert line.buyer_name == "Statement Lab"
    [closing] = statement.closing
    assert closing.amount_minor == 1_700 - 300
    rows = list(csv.reader(io.StringIO(statement_csv(statement))))
    kinds = [row[1] for row in rows[1:]]
    assert kinds == ["sale", "payout", "opening balance", "closing balance"], rows
    assert (Decimal(rows[-2][8]), Decimal(rows[-1][8])) == (Decimal("0.00"), Decimal("14.00"))
    assert (Decimal(rows[1][8]), Decimal(rows[2][8])) == (Decimal("17.00"), Decimal("-3.00"))
    written = write_statement_pdf(statement, tmp_path / "statement.pdf")
    text = " ".join(
        page.extract_text() for page in PdfReader(io.BytesIO(written.path.read_bytes())).pages
    )
    assert "harbour" in text
    assert "14.00" in text
