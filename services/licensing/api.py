"""Licensing's REST API (the contract is `services.contracts.licensing`)."""

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import MAX_PAGE_SIZE
from services.contracts.licensing import (
    BalanceRead,
    BundleCreate,
    BundlePage,
    BundleRead,
    CertificateRead,
    EarningsQuery,
    EarningsRead,
    LedgerCheck,
    LicencePage,
    LicenceRead,
    PayoutIn,
    PurchaseIn,
    PurchaseRead,
    QuoteIn,
    QuoteRead,
    RefundIn,
    TopUpIn,
    TransactionRead,
)
from services.contracts.roles import Role
from services.contracts.signing import PublicKeyRead
from services.kit.client import ServiceClient
from services.kit.db import get_session
from services.kit.errors import (
    AssentError,
    Forbidden,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller, require_role
from services.kit.signing import Signer
from services.licensing.catalogue import Catalogue
from services.licensing.config import Settings
from services.licensing.errors import (
    IdempotencyKeyReused,
    InsufficientFunds,
    LicenceRefunded,
    NothingToPurchase,
    QuoteExpired,
    QuotePurchased,
    ReferenceReused,
)
from services.licensing.payments import payment_service
from services.licensing.service import (
    bundle_service,
    earnings_service,
    ledger_service,
    licence_service,
    quote_service,
)

router = APIRouter(prefix="/v1", tags=["licensing"])

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
Ids = Annotated[list[uuid.UUID], Query(alias="id", min_length=1, max_length=MAX_PAGE_SIZE)]
First = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _catalogue(request: Request) -> Catalogue:
    # Built per request from the app's shared client, which tests may route elsewhere.
    state = request.app.state
    return Catalogue(
        ServiceClient(
            "catalogue", state.settings.catalogue_url, signer=state.token_signer, http=state.http
        )
    )


def _signer(request: Request) -> Signer:
    signer: Signer = request.app.state.certificate_signer
    return signer


LicensingSettings = Annotated[Settings, Depends(_settings)]
CatalogueReader = Annotated[Catalogue, Depends(_catalogue)]
CertificateSigner = Annotated[Signer, Depends(_signer)]


def _responses(*errors: type[AssentError]) -> dict[int | str, dict[str, Any]]:
    """`error_responses`, naming every error a status stands for (409 has several)."""
    merged = error_responses(*errors)
    for status_code, response in merged.items():
        names = [error.__name__ for error in errors if error.status_code == status_code]
        response["description"] = " | ".join(names)
    return merged


_READ = (Unauthenticated, NotFound)


# --- bundles and quotes ---


@router.post(
    "/bundles",
    status_code=status.HTTP_201_CREATED,
    responses=_responses(Unauthenticated, Forbidden, InvalidRequest, ServiceUnavailable),
)
async def create_bundle(
    bundle: BundleCreate, caller: CurrentCaller, session: Session, catalogue: CatalogueReader
) -> BundleRead:
    """Save a selection of works (buyers): the ids given, or what a search finds now."""
    require_role(caller, Role.BUYER)
    return await bundle_service.create(session, caller, bundle, catalogue=catalogue)


@router.get("/bundles", responses=_responses(Unauthenticated, InvalidRequest))
async def list_bundles(
    caller: CurrentCaller, session: Session, first: First = 20, after: str | None = None
) -> BundlePage:
    """The caller's own bundles, newest first."""
    return await bundle_service.page(session, caller, after=after, first=first)


@router.get("/bundles/{bundle_id}", responses=_responses(*_READ))
async def get_bundle(bundle_id: uuid.UUID, caller: CurrentCaller, session: Session) -> BundleRead:
    """One bundle: its buyer's, or any for admins and auditors."""
    return await bundle_service.get(session, caller, bundle_id)


@router.post(
    "/quotes",
    status_code=status.HTTP_201_CREATED,
    responses=_responses(Unauthenticated, Forbidden, NotFound, ServiceUnavailable),
)
async def create_quote(
    quote: QuoteIn,
    caller: CurrentCaller,
    session: Session,
    catalogue: CatalogueReader,
    settings: LicensingSettings,
) -> QuoteRead:
    """Price a bundle now: each work's current offer locked until the quote expires."""
    require_role(caller, Role.BUYER)
    return await quote_service.create(
        session,
        caller,
        quote,
        catalogue=catalogue,
        fee_bps=settings.platform_fee_bps,
        ttl=timedelta(seconds=settings.quote_ttl_seconds),
    )


@router.get("/quotes/{quote_id}", responses=_responses(*_READ))
async def get_quote(quote_id: uuid.UUID, caller: CurrentCaller, session: Session) -> QuoteRead:
    """One quote, with its status now (open, purchased or expired)."""
    return await quote_service.get(session, caller, quote_id)


# --- purchases and licences ---


@router.post(
    "/purchases",
    responses=_responses(
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
async def purchase(purchase: PurchaseIn, caller: CurrentCaller, session: Session) -> PurchaseRead:
    """Buy a quote (buyers); the same idempotency key always answers with the same licence."""
    require_role(caller, Role.BUYER)
    return await licence_service.purchase(session, caller, purchase)


@router.get("/licences", responses=_responses(Unauthenticated, InvalidRequest))
async def list_licences(
    caller: CurrentCaller, session: Session, first: First = 20, after: str | None = None
) -> LicencePage:
    """Licences newest first: a buyer's own; every one for admins and auditors."""
    return await licence_service.page(session, caller, after=after, first=first)


@router.get("/licences/batch", responses=_responses(Unauthenticated))
async def get_licences(ids: Ids, caller: CurrentCaller, session: Session) -> list[LicenceRead]:
    """Batch read in the order asked; licences missing or not the caller's are left out."""
    return await licence_service.get_many(session, caller, ids)


@router.get("/licences/certificates", responses=_responses(Unauthenticated))
async def get_certificates(
    licence_ids: Annotated[
        list[uuid.UUID], Query(alias="licence_id", min_length=1, max_length=MAX_PAGE_SIZE)
    ],
    caller: CurrentCaller,
    session: Session,
    signer: CertificateSigner,
) -> list[CertificateRead]:
    """Batch read of certificates in the order asked; licences missing or not the caller's
    are left out."""
    return await licence_service.certificates(session, caller, licence_ids, signer=signer)


@router.get("/licences/{licence_id}", responses=_responses(*_READ))
async def get_licence(
    licence_id: uuid.UUID, caller: CurrentCaller, session: Session
) -> LicenceRead:
    """One licence: its buyer's, or any for admins and auditors."""
    return await licence_service.get(session, caller, licence_id)


@router.get("/licences/{licence_id}/certificate", responses=_responses(*_READ))
async def get_certificate(
    licence_id: uuid.UUID, caller: CurrentCaller, session: Session, signer: CertificateSigner
) -> CertificateRead:
    """The licence as a signed certificate (DSSE, Ed25519) a third party can verify."""
    return await licence_service.certificate(session, caller, licence_id, signer=signer)


@router.post(
    "/licences/{licence_id}/refund",
    responses=_responses(Unauthenticated, Forbidden, NotFound, InvalidRequest, LicenceRefunded),
)
async def refund_licence(
    licence_id: uuid.UUID, refund: RefundIn, caller: CurrentCaller, session: Session
) -> LicenceRead:
    """Refund and revoke a licence (admins): every entry of its sale is reversed."""
    require_role(caller, Role.ADMIN)
    return await licence_service.refund(session, caller, licence_id, refund)


@router.get("/keys", responses=_responses(Unauthenticated))
async def get_keys(_caller: CurrentCaller, signer: CertificateSigner) -> list[PublicKeyRead]:
    """The public keys that verify licence certificates."""
    return [signer.published()]


# --- money ---


@router.post(
    "/ledger/top-ups",
    status_code=status.HTTP_201_CREATED,
    responses=_responses(Unauthenticated, Forbidden, InvalidRequest, ReferenceReused),
)
async def top_up(top_up: TopUpIn, caller: CurrentCaller, session: Session) -> TransactionRead:
    """Record money received from a buyer (admins): it credits their prepaid balance, once
    per reference (a retry answers the same transaction)."""
    require_role(caller, Role.ADMIN)
    return await payment_service.top_up(session, caller, top_up)


@router.post(
    "/ledger/payouts",
    status_code=status.HTTP_201_CREATED,
    responses=_responses(
        Unauthenticated, Forbidden, InvalidRequest, InsufficientFunds, ReferenceReused
    ),
)
async def payout(payout: PayoutIn, caller: CurrentCaller, session: Session) -> TransactionRead:
    """Record money paid to a creator (admins), at most what they are owed, once per
    reference (a retry answers the same transaction)."""
    require_role(caller, Role.ADMIN)
    return await payment_service.payout(session, caller, payout)


@router.get("/ledger/check", responses=_responses(Unauthenticated, Forbidden))
async def check_ledger(caller: CurrentCaller, session: Session) -> LedgerCheck:
    """The ledger's invariants (admins and auditors): every list is empty when it is sound."""
    require_role(caller, Role.ADMIN, Role.AUDITOR)
    return await ledger_service.check(session)


@router.get("/balances", responses=_responses(Unauthenticated, Forbidden, InvalidRequest))
async def get_balances(
    caller: CurrentCaller, session: Session, owner_id: uuid.UUID | None = None
) -> list[BalanceRead]:
    """An account holder's balances per currency: one's own; anyone's for admins, auditors."""
    return await ledger_service.balances(session, caller, owner_id)


@router.get("/earnings", responses=_responses(Unauthenticated, Forbidden, InvalidRequest))
async def get_earnings(
    query: Annotated[EarningsQuery, Query()], caller: CurrentCaller, session: Session
) -> EarningsRead:
    """A creator's statement: every share of every sale, by work and period, and payouts."""
    return await earnings_service.statement(session, caller, query)
