"""Labs' billing details and invoices.

Prices are net of VAT. What VAT a purchase bears follows from the lab's billing details
and the platform's country (README, "Invoices and VAT"): charged at the platform's rate
to a buyer in the platform's country, or in another EU country without a VAT id; none,
under reverse charge, to an EU business in another country with a valid VAT id; none,
outside the scope of EU VAT, to a buyer outside the EU. A lab without billing details is
invoiced without VAT, to its account's name.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

from services.contracts.licensing._base import Schema
from services.contracts.text import NulFreeStr

Line = Annotated[NulFreeStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class VatTreatment(StrEnum):
    CHARGED = "charged"
    REVERSE_CHARGE = "reverse_charge"
    OUTSIDE_SCOPE = "outside_scope"
    """A buyer outside the EU."""
    NOT_DETERMINED = "not_determined"
    """The lab gave no billing details."""


class BillingDetailsIn(Schema):
    organisation: Line
    address: Line
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    vat_id: str | None = Field(
        default=None, max_length=20, description="an EU VAT id; spaces are allowed"
    )


class BillingDetailsRead(Schema):
    buyer_id: UUID
    organisation: str
    address: str
    country: str
    vat_id: str | None
    vat_treatment: VatTreatment = Field(description="what the lab's purchases bear from now")
    updated_at: datetime


class InvoiceLineRead(Schema):
    description: str
    work_id: UUID
    net_minor: int
    vat_minor: int


class InvoiceRead(Schema):
    id: UUID
    number: str | None = Field(
        description="sequential, without gaps; given a moment after the invoice is made"
    )
    buyer_id: UUID
    licence_id: UUID | None = Field(description="the purchase it invoices, per purchase")
    period: date | None = Field(description="the month it invoices, monthly")
    issued_at: datetime
    currency: str
    net_minor: int
    vat_minor: int
    gross_minor: int
    vat_rate_bps: int
    vat_treatment: VatTreatment
    vat_note: str = Field(description="the words the treatment requires on the invoice")
    buyer_name: str
    buyer_address: str | None
    buyer_country: str | None
    buyer_vat_id: str | None
    seller_name: str
    seller_address: str
    seller_country: str
    seller_vat_id: str
    lines: list[InvoiceLineRead]
