"""A lab's billing details and invoices."""

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry

from gateway.types.catalogue import Money
from gateway.types.errors import Forbidden, NotFound, Refusals, ValidationFailed
from gateway.types.licensing import money
from services.contracts import licensing as contract


@strawberry.enum(description="What VAT a purchase bears (README, Invoices and VAT).")
class VatTreatment(Enum):
    CHARGED = "charged"
    REVERSE_CHARGE = "reverse_charge"
    OUTSIDE_SCOPE = "outside_scope"
    NOT_DETERMINED = "not_determined"


@strawberry.type(description="Who a lab's invoices are made out to.")
class BillingDetails:
    organisation: str
    address: str
    country: str
    vat_id: str | None
    vat_treatment: VatTreatment = strawberry.field(
        description="What VAT your purchases bear from now on."
    )
    updated_at: datetime

    @classmethod
    def of(cls, details: contract.BillingDetailsRead) -> "BillingDetails":
        return cls(
            organisation=details.organisation,
            address=details.address,
            country=details.country,
            vat_id=details.vat_id,
            vat_treatment=VatTreatment(details.vat_treatment.value),
            updated_at=details.updated_at,
        )


@strawberry.type
class InvoiceLine:
    description: str
    work_id: strawberry.ID
    net: Money
    vat: Money


@strawberry.type(description="An invoice for one purchase.")
class Invoice:
    id: strawberry.ID
    number: str | None = strawberry.field(
        description="Sequential without gaps; given a moment after the purchase."
    )
    licence_id: strawberry.ID | None
    period: date | None
    issued_at: datetime
    net: Money
    vat: Money
    gross: Money
    vat_rate_bps: int
    vat_treatment: VatTreatment
    vat_note: str
    buyer_name: str
    buyer_address: str | None
    buyer_country: str | None
    buyer_vat_id: str | None
    seller_name: str
    seller_address: str
    seller_country: str
    seller_vat_id: str
    lines: list[InvoiceLine]

    @classmethod
    def of(cls, invoice: contract.InvoiceRead) -> "Invoice":
        currency = invoice.currency
        return cls(
            id=strawberry.ID(str(invoice.id)),
            number=invoice.number,
            licence_id=strawberry.ID(str(invoice.licence_id)) if invoice.licence_id else None,
            period=invoice.period,
            issued_at=invoice.issued_at,
            net=money(invoice.net_minor, currency),
            vat=money(invoice.vat_minor, currency),
            gross=money(invoice.gross_minor, currency),
            vat_rate_bps=invoice.vat_rate_bps,
            vat_treatment=VatTreatment(invoice.vat_treatment.value),
            vat_note=invoice.vat_note,
            buyer_name=invoice.buyer_name,
            buyer_address=invoice.buyer_address,
            buyer_country=invoice.buyer_country,
            buyer_vat_id=invoice.buyer_vat_id,
            seller_name=invoice.seller_name,
            seller_address=invoice.seller_address,
            seller_country=invoice.seller_country,
            seller_vat_id=invoice.seller_vat_id,
            lines=[
                InvoiceLine(
                    description=line.description,
                    work_id=strawberry.ID(str(line.work_id)),
                    net=money(line.net_minor, currency),
                    vat=money(line.vat_minor, currency),
                )
                for line in invoice.lines
            ],
        )


@strawberry.type
class InvoiceList:
    items: list[Invoice]


BillingDetailsResult = Annotated[
    BillingDetails | ValidationFailed | NotFound | Forbidden | Refusals,
    strawberry.union("BillingDetailsResult"),
]
InvoicesResult = Annotated[InvoiceList | Forbidden | Refusals, strawberry.union("InvoicesResult")]
InvoiceResult = Annotated[
    Invoice | NotFound | Forbidden | Refusals, strawberry.union("InvoiceResult")
]
