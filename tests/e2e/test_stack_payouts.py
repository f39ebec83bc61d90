"""Money as banks see it, with every component in its own process and a real SMTP server:
two creators confirm their bank accounts from the mail they receive and sell works; a
payout run writes a pain.001 paying both, valid against its XSD; the bank's camt.053
marks one transfer paid and returns the other; statements and the ledger agree; a lab
tops up by a Stripe event sent twice (credited once) and by a bank transfer quoting its
reference, matched from the next statement; the lab receives numbered invoices."""

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
import sepaxml
import xmlschema
from pypdf import PdfReader

from assent.client import AssentClient
from assent.invoices import Invoice, write_invoice_pdf
from tests.e2e.marketplace import (
    assert_ledger_sound,
    buy,
    delivered,
    eur_balance,
    funded_buyer,
    listed_work,
    quote_for,
    register,
)
from tests.e2e.payouts import IMPORT, confirmed_payout_account, payout_run, payouts_of
from tests.e2e.stripe_events import paid_checkout, post_event, signed
from tests.fixtures.bank import PLATFORM_IBAN, Booked, camt053
from tests.fixtures.faults import eventually
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.smtp import MailServer
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

PAIN_XSD = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
EARNINGS = """query($creator: ID) { earnings(creatorId: $creator) { ... on Earnings {
  closing { amountMinor } owed { amountMinor } payouts { amount { amountMinor } } } } }"""
REFERENCE = """{ bankTransferReference { __typename ... on BankTransferReference {
  reference iban } } }"""


async def _import(gateway: GraphQLClient, admin: str, entries: list[Booked]) -> dict[str, Any]:
    imported: dict[str, Any] = (
        await gateway.execute(IMPORT, {"format": "CAMT053", "content": camt053(entries)}, key=admin)
    )["importBankStatement"]
    assert imported["__typename"] == "BankStatementImport", imported
    return imported


async def test_two_creators_are_paid_by_sepa_and_the_bank_statement_settles_it(
    running_stack: RunningStack, gateway: GraphQLClient, smtp_server: MailServer, tmp_path: Path
) -> None:
    admin = running_stack.admin_key
    _, lab = await funded_buyer(gateway, admin, "Payout Stack Lab", 100_000)
    creators: dict[str, tuple[str, int]] = {}
    for name, iban, bic, price in (
        ("Payout Stack Ada", "DE02500105170137075030", "INGDDEFFXXX", 4_000),
        ("Payout Stack Bo", "NL91ABNA0417164300", "ABNANL2A", 2_000),
    ):
        creator_id, creator = await register(gateway, "CREATOR", name)
        await confirmed_payout_account(gateway, smtp_server, creator, name, iban, bic)
        work = await listed_work(gateway, creator, price=price, title=f"{name} harbour")
        licence = await buy(gateway, lab, (await quote_for(gateway, lab, [work]))["id"])
        await delivered(gateway, lab, licence["id"])
        creators[creator_id] = (creator, price - price * 1_500 // 10_000)
    (ada, (ada_key, ada_owed)), (bo, (bo_key, bo_owed)) = creators.items()

    run = await payout_run(gateway, admin)
    [file] = run["files"]
    document: Any = xmlschema.XMLSchema(str(PAIN_XSD)).to_dict(file["pain001"])
    (batch,) = document["CstmrCdtTrfInitn"]["PmtInf"]
    in_file = {
        transfer["PmtId"]["EndToEndId"]: int(transfer["Amt"]["InstdAmt"]["$"] * 100)
        for transfer in batch["CdtTrfTxInf"]
    }
    [ada_sent] = await payouts_of(gateway, ada_key, ada)
    [bo_sent] = await payouts_of(gateway, bo_key, bo)
    settled = await _import(
        gateway,
        admin,
        [
            Booked(ada_owed, debit=True, end_to_end_id=ada_sent["endToEndId"]),
            Booked(bo_owed, debit=True, end_to_end_id=bo_sent["endToEndId"]),
            Booked(bo_owed, debit=False, end_to_end_id=bo_sent["endToEndId"], return_reason="AC04"),
        ],
    )
    [ada_paid] = await payouts_of(gateway, ada_key, ada)
    [bo_returned] = await payouts_of(gateway, bo_key, bo)
    ada_earnings = (await gateway.execute(EARNINGS, {"creator": ada}, key=ada_key))["earnings"]
    bo_earnings = (await gateway.execute(EARNINGS, {"creator": bo}, key=bo_key))["earnings"]

    assert batch["DbtrAcct"]["Id"]["IBAN"] == PLATFORM_IBAN
    assert in_file[ada_sent["endToEndId"]] == ada_owed
    assert in_file[bo_sent["endToEndId"]] == bo_owed
    assert (settled["paid"], settled["returned"], settled["credited"]) == (2, 1, 0)
    assert ada_paid["state"] == "PAID"
    assert (bo_returned["state"], bo_returned["returnReason"]) == (
        "RETURNED",
        "AC04: the account is closed",
    )
    # Statements and the ledger agree: Ada is owed nothing, Bo what came back.
    assert [m["amountMinor"] for m in ada_earnings["closing"]] == [0]
    assert [m["amountMinor"] for m in ada_earnings["owed"]] == [0]
    assert [m["amountMinor"] for m in bo_earnings["closing"]] == [bo_owed]
    assert [m["amountMinor"] for m in bo_earnings["owed"]] == [bo_owed]
    assert sorted(p["amount"]["amountMinor"] for p in bo_earnings["payouts"]) == [-bo_owed, bo_owed]
    await assert_ledger_sound(gateway, admin)
    # The lab's invoices, one per purchase, numbered in the order they were made.
    invoices = await eventually(lambda: _numbered_invoices(running_stack, lab, 2), what="invoices")
    numbers = [int(invoice.number[5:]) for invoice in reversed(invoices) if invoice.number]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 2
    assert sorted(invoice.net.amount_minor for invoice in invoices) == [2_000, 4_000]
    written = write_invoice_pdf(invoices[0], tmp_path / "invoice.pdf")
    text = " ".join(
        page.extract_text() for page in PdfReader(io.BytesIO(written.path.read_bytes())).pages
    )
    assert f"Invoice {invoices[0].number}" in text
    assert "no billing details" in text


async def _numbered_invoices(running_stack: RunningStack, key: str, count: int) -> list[Invoice]:
    def fetch() -> list[Invoice]:
        with AssentClient(running_stack.stack.gateway_url, key) as client:
            return client.invoices.list()

    invoices = await asyncio.to_thread(fetch)
    numbered = [invoice for invoice in invoices if invoice.number]
    return numbered if len(numbered) == count else []


async def test_a_lab_tops_up_by_card_and_by_a_bank_transfer_matched_from_the_statement(
    running_stack: RunningStack, gateway: GraphQLClient
) -> None:
    admin = running_stack.admin_key
    buyer_id, lab = await register(gateway, "BUYER", "Bank Paying Lab")
    card = paid_checkout(buyer_id, 2_500)
    reference = (await gateway.execute(REFERENCE, key=lab))["bankTransferReference"]

    card_answers = [await post_event(running_stack, card, signed(card)) for _ in range(2)]
    credited = await _import(
        gateway, admin, [Booked(30_000, debit=False, remittance=reference["reference"])]
    )

    assert [answer.status_code for answer in card_answers] == [200, 200]
    assert reference["iban"] == PLATFORM_IBAN
    assert credited["credited"] == 1
    assert await eur_balance(gateway, lab) == 2_500 + 30_000
    await assert_ledger_sound(gateway, admin)
