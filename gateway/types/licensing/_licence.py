"""Licences: what a purchase grants, with its certificate and its delivery."""

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from gateway.context import Context
from gateway.document_limits import list_bound
from gateway.types.catalogue import MediaType, Money, Terms, Use
from gateway.types.delivery import Delivery
from gateway.types.errors import (
    Conflict,
    Forbidden,
    InsufficientFunds,
    NotFound,
    QuoteExpired,
    Refusals,
    ValidationFailed,
    unavailable_in_place,
)
from gateway.types.licensing._common import LicenceLineStatus, LicenceStatus, money
from gateway.types.scalars import BigInt
from services.contracts import licensing as contract
from services.kit import errors


@strawberry.type
class LicenceLine:
    work_id: strawberry.ID
    version_id: strawberry.ID
    title: str
    media_type: MediaType
    file_name: str
    size: BigInt
    sha256: str
    attribution: str
    terms_id: str
    terms: Terms
    price: Money
    starts_at: datetime
    ends_at: datetime
    status: LicenceLineStatus
    excluded_reason: str | None
    expired: bool = strawberry.field(
        description="Its duration has run out: its file no longer downloads."
    )


@strawberry.type
class Licence:
    id: strawberry.ID
    buyer_id: strawberry.ID
    buyer_name: str
    bundle_id: strawberry.ID
    quote_id: strawberry.ID
    uses: list[Use]
    total: Money
    platform_fee: Money
    refunded: Money
    status: LicenceStatus
    granted_at: datetime
    starts_at: datetime
    ends_at: datetime
    refunded_at: datetime | None
    revoked_at: datetime | None = strawberry.field(
        description="When an admin revoked it without a refund; null unless revoked."
    )
    expired: bool = strawberry.field(
        description="Every line's duration has run out: none of its files downloads."
    )
    lines: list[LicenceLine] = strawberry.field(metadata=list_bound(contract.MAX_BUNDLE_WORKS))

    @classmethod
    def of(cls, licence: contract.LicenceRead) -> "Licence":
        currency = licence.currency
        return cls(
            id=strawberry.ID(str(licence.id)),
            buyer_id=strawberry.ID(str(licence.buyer_id)),
            buyer_name=licence.buyer_name,
            bundle_id=strawberry.ID(str(licence.bundle_id)),
            quote_id=strawberry.ID(str(licence.quote_id)),
            uses=list(licence.uses),
            total=money(licence.total_minor, currency),
            platform_fee=money(licence.platform_fee_minor, currency),
            refunded=money(licence.refunded_minor, currency),
            status=licence.status,
            granted_at=licence.granted_at,
            starts_at=licence.starts_at,
            ends_at=licence.ends_at,
            refunded_at=licence.refunded_at,
            revoked_at=licence.revoked_at,
            expired=licence.expired,
            lines=[
                LicenceLine(
                    work_id=strawberry.ID(str(line.work_id)),
                    version_id=strawberry.ID(str(line.version_id)),
                    title=line.title,
                    media_type=line.media_type,
                    file_name=line.file_name,
                    size=BigInt(line.size),
                    sha256=line.sha256,
                    attribution=line.attribution,
                    terms_id=line.terms_id,
                    terms=Terms.of(line.terms),
                    price=money(line.price_minor, currency),
                    starts_at=line.starts_at,
                    ends_at=line.ends_at,
                    status=line.status,
                    excluded_reason=line.excluded_reason,
                    expired=line.expired,
                )
                for line in licence.lines
            ],
        )

    @strawberry.field(
        description="The licence as a signed (Ed25519, DSSE) certificate to show a third "
        "party: {certificate, envelope}; `assent verify` checks it offline. Null, with a "
        "SERVICE_UNAVAILABLE error at its path, when licensing does not answer."
    )
    async def certificate(self, info: Info[Context, None]) -> JSON | None:
        try:
            read = await info.context.loaders.certificates.load(uuid.UUID(str(self.id)))
        except errors.ServiceUnavailable as error:
            raise unavailable_in_place(error) from error
        return JSON(read.model_dump(mode="json", by_alias=True)) if read else None

    @strawberry.field(
        description="The delivery built for this licence, once it exists. Null, with a "
        "SERVICE_UNAVAILABLE error at its path, when delivery does not answer."
    )
    async def delivery(self, info: Info[Context, None]) -> Delivery | None:
        try:
            found = await info.context.loaders.delivery_of_licence.load(uuid.UUID(str(self.id)))
        except errors.ServiceUnavailable as error:
            raise unavailable_in_place(error) from error
        return Delivery.of(found) if found else None


@strawberry.type
class LicenceConnection:
    items: list[Licence]
    next_cursor: str | None


@strawberry.type
class PurchaseSucceeded:
    licence: Licence
    replayed: bool = strawberry.field(
        description="True when this idempotency key had already bought the licence."
    )


@strawberry.type
class LicenceRefunded:
    licence: Licence


LicenceResult = Annotated[Licence | NotFound | Refusals, strawberry.union("LicenceResult")]
LicencesResult = Annotated[
    LicenceConnection | ValidationFailed | Refusals, strawberry.union("LicencesResult")
]
PurchaseResult = Annotated[
    PurchaseSucceeded
    | QuoteExpired
    | InsufficientFunds
    | Conflict
    | NotFound
    | Forbidden
    | ValidationFailed
    | Refusals,
    strawberry.union("PurchaseResult"),
]


@strawberry.type
class LicenceRevoked:
    licence: Licence


RevokeLicenceResult = Annotated[
    LicenceRevoked | Conflict | NotFound | Forbidden | ValidationFailed | Refusals,
    strawberry.union("RevokeLicenceResult"),
]
RefundLicenceResult = Annotated[
    LicenceRefunded | Conflict | NotFound | Forbidden | ValidationFailed | Refusals,
    strawberry.union("RefundLicenceResult"),
]
