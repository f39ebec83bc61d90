"""Labs' invoices: the VAT each purchase bears by the lab's billing details (charged at
home, reverse charge in another member state, none outside the EU), charged with the
sale and returned with its refund; a VAT id with a bad check digit refused."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.licensing import LedgerAccountKind
from services.kit.db import utcnow
from services.licensing.invoice.models import BillingProfile, Invoice, InvoiceItem
from services.licensing.invoice.service import InvoiceNumberer, Invoicing, Seller
from services.licensing.models import AccountKey, LedgerPosting
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import Api, make_quote, quote_line, top_up

SELLER_COUNTRY = "DE"  # the licensing settings' default: VAT at 19%


async def _details(api: Api, lab: Actor, country: str, vat_id: str | None = None) -> Any:
    return await api.call(
        lab,
        "PUT",
        "/v1/billing-details",
        json={
            "organisation": f"{lab.name} GmbH",
            "address": "Hafenstraße 1, 20459 Hamburg",
            "country": country,
            "vat_id": vat_id,
        },
    )


async def _vat_owed(session: AsyncSession) -> int:
    account = AccountKey(LedgerAccountKind.VAT_PAYABLE, None, "EUR").id
    owed = await session.scalar(
        select(func.coalesce(func.sum(LedgerPosting.amount_minor), 0)).where(
            LedgerPosting.account_id == account
        )
    )
    return int(owed or 0)


async def _bought(session: AsyncSession, api: Api, lab: Actor, price: int) -> dict[str, Any]:
    await top_up(session, lab.id, 10_000)
    quote = await make_quote(session, lab.id, [quote_line(price, [(lab.id, 10_000)])])
    return await api.bought(lab, str(quote), key=f"order-{quote}")


async def test_a_vat_id_with_a_bad_check_digit_or_of_another_country_is_refused(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    bad_digit = await _details(api, lab, "DE", "DE136695977")
    elsewhere = await _details(api, lab, "FR", "DE136695976")

    assert bad_digit.status_code == elsewhere.status_code == 400
    assert [f["code"] for f in bad_digit.json()["fields"]] == ["invalid_vat_id"]
    assert [f["code"] for f in elsewhere.json()["fields"]] == ["vat_id_country_mismatch"]
    assert await session.scalar(select(func.count()).select_from(BillingProfile)) == 0


@pytest.mark.parametrize(
    ("country", "vat_id", "treatment", "vat"),
    [
        ("DE", "DE136695976", "charged", 190),
        ("FR", "FR40303265045", "reverse_charge", 0),
        ("FR", None, "charged", 190),
        ("US", None, "outside_scope", 0),
    ],
    ids=["domestic", "eu-business", "eu-without-vat-id", "outside-eu"],
)
async def test_a_purchase_bears_the_vat_its_billing_details_call_for(
    api: Api,
    session: AsyncSession,
    lab: Actor,
    admin: Actor,
    country: str,
    vat_id: str | None,
    treatment: str,
    vat: int,
) -> None:
    details = await _details(api, lab, country, vat_id)
    assert details.status_code == 200, details.text

    licence = await _bought(session, api, lab, 1_000)
    [invoice] = await api.ok(lab, "GET", "/v1/invoices")

    assert details.json()["vat_treatment"] == treatment
    assert (invoice["net_minor"], invoice["vat_minor"], invoice["gross_minor"]) == (
        1_000,
        vat,
        1_000 + vat,
    )
    assert invoice["vat_treatment"] == treatment
    assert invoice["licence_id"] == licence["id"]
    assert invoice["buyer_name"] == f"{lab.name} GmbH"
    assert invoice["seller_country"] == SELLER_COUNTRY
    assert [line["net_minor"] for line in invoice["lines"]] == [1_000]
    assert await api.balance(lab, lab) == 10_000 - 1_000 - vat
    assert await api.balance(admin, lab, "buyer_balance") == 10_000 - 1_000 - vat
    if treatment == "reverse_charge":
        assert "Reverse charge" in invoice["vat_note"]
    check = await api.ok(admin, "GET", "/v1/ledger/check")
    assert check["unbalanced_transactions"] == []
    assert check["balance_mismatches"] == []


async def test_a_refund_returns_the_price_and_its_vat(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    await _details(api, lab, "DE", None)
    licence = await _bought(session, api, lab, 2_000)
    vat_owed = await _vat_owed(session)

    refunded = await api.call(
        admin, "POST", f"/v1/licences/{licence['id']}/refund", json={"reason": "duplicate"}
    )

    assert refunded.status_code == 200, refunded.text
    assert vat_owed == 380
    assert await _vat_owed(session) == 0
    assert await api.balance(lab, lab) == 10_000
    check = await api.ok(admin, "GET", "/v1/ledger/check")
    assert check["unbalanced_transactions"] == []


async def test_without_billing_details_the_invoice_bears_no_vat_and_says_why(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    await _bought(session, api, lab, 1_000)
    [invoice] = await api.ok(lab, "GET", "/v1/invoices")

    assert (invoice["vat_minor"], invoice["vat_treatment"]) == (0, "not_determined")
    assert invoice["buyer_name"] == lab.name
    assert "no billing details" in invoice["vat_note"]


async def test_a_lab_reads_only_its_own_invoices(
    api: Api, session: AsyncSession, lab: Actor, rival: Actor, auditor: Actor
) -> None:
    await _bought(session, api, lab, 1_000)
    [invoice] = await api.ok(lab, "GET", "/v1/invoices")

    theirs = await api.call(rival, "GET", f"/v1/invoices/{invoice['id']}")
    listed = await api.ok(rival, "GET", "/v1/invoices", params={"buyer_id": lab.subject})
    audited = await api.ok(auditor, "GET", f"/v1/invoices/{invoice['id']}")

    assert theirs.status_code == 404
    assert listed == []
    assert audited["id"] == invoice["id"]


async def test_an_invoice_is_numbered_after_its_purchase_commits(
    api: Api, session: AsyncSession, app: FastAPI, lab: Actor
) -> None:
    await _bought(session, api, lab, 1_000)
    before = await session.scalar(select(Invoice.number))

    numbered = await app.state.invoice_numberer.number_due()
    [invoice] = await api.ok(lab, "GET", "/v1/invoices")

    assert before is None
    assert numbered >= 1
    assert invoice["number"] is not None
    assert invoice["number"].startswith(invoice["issued_at"][:4] + "-")


async def test_monthly_a_labs_purchases_of_a_month_that_is_over_make_one_invoice(
    api: Api, session: AsyncSession, app: FastAPI, lab: Actor
) -> None:
    licences = app.state.licensing.licences
    kept = licences.invoicing
    monthly = Invoicing(Seller("Assent", "Hafen 1", "DE", "DE136695976"), 1_900, monthly=True)
    licences.invoicing = monthly
    try:
        earlier = [await _bought(session, api, lab, price) for price in (1_000, 2_000)]
        await _bought(session, api, lab, 500)
        last_month = (utcnow().replace(day=1) - timedelta(days=3)).replace(hour=12)
        await session.execute(
            update(InvoiceItem)
            .where(InvoiceItem.licence_id.in_([uuid.UUID(licence["id"]) for licence in earlier]))
            .values(issued_at=last_month)
        )
        numberer = InvoiceNumberer(lambda: app.state.sessionmaker, monthly, poll_seconds=1)
        await numberer.number_due()
        invoices = await api.ok(lab, "GET", "/v1/invoices")
    finally:
        licences.invoicing = kept

    [invoice] = invoices
    assert invoice["period"] == last_month.date().replace(day=1).isoformat()
    assert invoice["licence_id"] is None
    assert (invoice["net_minor"], len(invoice["lines"])) == (3_000, 2)
    assert invoice["number"] is not None
