"""What licensing's types share: its enums and the money they all show."""

import uuid

import strawberry

from gateway.types.catalogue import Money
from gateway.types.scalars import BigInt
from services.contracts import licensing as contract

BundleSource = contract.BundleSource
ExclusionReason = contract.ExclusionReason
QuoteStatus = contract.QuoteStatus
LicenceStatus = contract.LicenceStatus
LicenceLineStatus = contract.LicenceLineStatus
TransactionKind = contract.TransactionKind
LedgerAccountKind = contract.LedgerAccountKind
Period = contract.Period
RefundReason = contract.RefundReason
for _enum in (
    BundleSource,
    ExclusionReason,
    QuoteStatus,
    LicenceStatus,
    LicenceLineStatus,
    TransactionKind,
    LedgerAccountKind,
    Period,
    RefundReason,
):
    strawberry.enum(_enum)


def money(amount_minor: int, currency: str) -> Money:
    return Money(amount_minor=BigInt(amount_minor), currency=currency)


def optional_id(value: uuid.UUID | None) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value is not None else None
