"""Labs' billing details, their invoices, and the counter that numbers them.

Each purchase is written as an invoice item in its own transaction: with its own invoice
at once, or (`ASSENT_LICENSING_INVOICE_PERIOD=month`) gathered into its buyer's invoice
for the month when the month is over. Invoices are made without a number; the numbering
worker gives numbers in the order invoices were made, under a lock on the year's counter,
so a purchase that rolled back leaves no gap and concurrent purchases never wait on the
counter.
"""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from services.contracts.licensing import VatTreatment
from services.kit.db import UTCDateTime
from services.licensing.models import Base, enum_column


class BillingProfile(Base):
    __tablename__ = "billing_profile"

    buyer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    vat_id: Mapped[str | None] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Invoice(Base):
    __tablename__ = "invoice"
    __table_args__ = (
        Index("ix_invoice_buyer_issued", "buyer_id", "issued_at"),
        Index(
            "ix_invoice_unnumbered",
            "issued_at",
            "id",
            postgresql_where=text("number IS NULL"),
            sqlite_where=text("number IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    buyer_id: Mapped[uuid.UUID]
    licence_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    period: Mapped[date | None] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(String(3))
    net_minor: Mapped[int] = mapped_column(BigInteger)
    vat_minor: Mapped[int] = mapped_column(BigInteger)
    vat_rate_bps: Mapped[int] = mapped_column(Integer)
    vat_treatment: Mapped[VatTreatment] = mapped_column(enum_column(VatTreatment))
    buyer_name: Mapped[str] = mapped_column(String(200))
    buyer_address: Mapped[str | None] = mapped_column(String(200))
    buyer_country: Mapped[str | None] = mapped_column(String(2))
    buyer_vat_id: Mapped[str | None] = mapped_column(String(20))
    # The seller as it was when the invoice was made: an invoice is never rewritten.
    seller_name: Mapped[str] = mapped_column(String(200))
    seller_address: Mapped[str] = mapped_column(String(200))
    seller_country: Mapped[str] = mapped_column(String(2))
    seller_vat_id: Mapped[str] = mapped_column(String(20))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class InvoiceItem(Base):
    """One purchase as invoiced: its own invoice at once, or, monthly, a line group of its
    buyer's invoice for the month, once the month is over."""

    __tablename__ = "invoice_item"
    __table_args__ = (
        Index(
            "ix_invoice_item_open",
            "issued_at",
            postgresql_where=text("invoice_id IS NULL"),
            sqlite_where=text("invoice_id IS NULL"),
        ),
    )

    licence_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    buyer_id: Mapped[uuid.UUID]
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(String(3))
    net_minor: Mapped[int] = mapped_column(BigInteger)
    vat_minor: Mapped[int] = mapped_column(BigInteger)
    vat_rate_bps: Mapped[int] = mapped_column(Integer)
    vat_treatment: Mapped[VatTreatment] = mapped_column(enum_column(VatTreatment))
    buyer_name: Mapped[str] = mapped_column(String(200))
    buyer_address: Mapped[str | None] = mapped_column(String(200))
    buyer_country: Mapped[str | None] = mapped_column(String(2))
    buyer_vat_id: Mapped[str | None] = mapped_column(String(20))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class InvoiceCounter(Base):
    """The last number given in a series (a year)."""

    __tablename__ = "invoice_counter"

    series: Mapped[str] = mapped_column(String(10), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)
