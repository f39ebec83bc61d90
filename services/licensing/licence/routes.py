"""Purchases', licences' and certificates' routes."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.contracts.catalogue import MAX_PAGE_SIZE
from services.contracts.licensing import (
    CertificateRead,
    LicencePage,
    LicenceRead,
    PurchaseIn,
    PurchaseRead,
    RefundIn,
    RevokeIn,
)
from services.contracts.roles import Role
from services.kit.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller, require_role
from services.licensing.dependencies import READ, CertificateSigner, First, Ids, Licences, Session
from services.licensing.errors import (
    IdempotencyKeyReused,
    InsufficientFunds,
    LicenceNotUsable,
    LicenceRefunded,
    NothingToPurchase,
    QuoteExpired,
    QuotePurchased,
)
from services.licensing.licence.revocation import revocation_service

router = APIRouter(prefix="/v1", tags=["licensing"])


@router.post(
    "/purchases",
    responses=error_responses(
        Unauthenticated,
        Forbidden,
        NotFound,
        QuoteExpired,
        QuotePurchased,
        NothingToPurchase,
        InsufficientFunds,
        IdempotencyKeyReused,
    ),
)
async def purchase(
    purchase: PurchaseIn, caller: CurrentCaller, session: Session, licences: Licences
) -> PurchaseRead:
    """Buy a quote (buyers); the same idempotency key always answers with the same licence."""
    require_role(caller, Role.BUYER)
    return await licences.purchase(session, caller, purchase)


@router.get("/licences", responses=error_responses(Unauthenticated, InvalidRequest))
async def list_licences(
    caller: CurrentCaller,
    session: Session,
    licences: Licences,
    first: First = 20,
    after: str | None = None,
) -> LicencePage:
    """Licences newest first: a buyer's own; every one for admins and auditors."""
    return await licences.page(session, caller, after=after, first=first)


@router.get("/licences/batch", responses=error_responses(Unauthenticated))
async def get_licences(
    ids: Ids, caller: CurrentCaller, session: Session, licences: Licences
) -> list[LicenceRead]:
    """Batch read in the order asked; licences missing or not the caller's are left out."""
    return await licences.get_many(session, caller, ids)


@router.get("/licences/certificates", responses=error_responses(Unauthenticated))
async def get_certificates(
    licence_ids: Annotated[
        list[uuid.UUID], Query(alias="licence_id", min_length=1, max_length=MAX_PAGE_SIZE)
    ],
    caller: CurrentCaller,
    session: Session,
    licences: Licences,
    signer: CertificateSigner,
) -> list[CertificateRead]:
    """Batch read of certificates in the order asked; licences missing or not the caller's
    are left out."""
    return await licences.certificates(session, caller, licence_ids, signer=signer)


@router.get("/licences/{licence_id}", responses=error_responses(*READ))
async def get_licence(
    licence_id: uuid.UUID, caller: CurrentCaller, session: Session, licences: Licences
) -> LicenceRead:
    """One licence: its buyer's, or any for admins and auditors."""
    return await licences.get(session, caller, licence_id)


@router.get("/licences/{licence_id}/certificate", responses=error_responses(*READ))
async def get_certificate(
    licence_id: uuid.UUID,
    caller: CurrentCaller,
    session: Session,
    licences: Licences,
    signer: CertificateSigner,
) -> CertificateRead:
    """The licence as a signed certificate (DSSE, Ed25519) a third party can verify."""
    return await licences.certificate(session, caller, licence_id, signer=signer)


@router.post(
    "/licences/{licence_id}/refund",
    responses=error_responses(
        Unauthenticated, Forbidden, NotFound, InvalidRequest, LicenceRefunded
    ),
)
async def refund_licence(
    licence_id: uuid.UUID,
    refund: RefundIn,
    caller: CurrentCaller,
    session: Session,
    licences: Licences,
) -> LicenceRead:
    """Refund and revoke a licence (admins): every entry of its sale is reversed."""
    require_role(caller, Role.ADMIN)
    return await licences.refund(session, caller, licence_id, refund)


@router.post(
    "/licences/{licence_id}/revoke",
    responses=error_responses(
        Unauthenticated, Forbidden, NotFound, InvalidRequest, LicenceNotUsable
    ),
)
async def revoke_licence(
    licence_id: uuid.UUID, revoke: RevokeIn, caller: CurrentCaller, session: Session
) -> LicenceRead:
    """Revoke a licence without a refund (admins): its files and records may no longer be
    used; the money stays where the sale put it."""
    require_role(caller, Role.ADMIN)
    return await revocation_service.revoke(session, caller, licence_id, revoke)
