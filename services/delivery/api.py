"""Delivery's REST API (the contract is `services.contracts.delivery`)."""

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import MAX_PAGE_SIZE
from services.contracts.delivery import (
    DeliveryFilePage,
    DeliveryFiles,
    DeliveryRead,
    DownloadLink,
    ManifestRead,
    TraceIn,
    TraceResult,
)
from services.contracts.signing import PublicKeyRead
from services.delivery.config import Settings
from services.delivery.errors import (
    DeliveryEmpty,
    DeliveryNotReady,
    LicenceExpired,
    LicenceRevoked,
)
from services.delivery.manifest import DeliveryKeys
from services.delivery.service import delivery_service
from services.delivery.tracing import trace_service
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
from services.kit.internal_token import CurrentCaller
from storage.object_store import ObjectStore

router = APIRouter(prefix="/v1", tags=["delivery"])

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
LicenceIds = Annotated[
    list[uuid.UUID], Query(alias="licence_id", min_length=1, max_length=MAX_PAGE_SIZE)
]
DeliveryIds = Annotated[
    list[uuid.UUID], Query(alias="delivery_id", min_length=1, max_length=MAX_PAGE_SIZE)
]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Fingerprint = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


def _store(request: Request) -> ObjectStore:
    store: ObjectStore = request.app.state.object_store
    return store


def _keys(request: Request) -> DeliveryKeys:
    keys: DeliveryKeys = request.app.state.delivery_keys
    return keys


def _link_ttl(request: Request) -> timedelta:
    settings: Settings = request.app.state.settings
    return timedelta(seconds=settings.link_ttl_seconds)


Store = Annotated[ObjectStore, Depends(_store)]
Keys = Annotated[DeliveryKeys, Depends(_keys)]
LinkTtl = Annotated[timedelta, Depends(_link_ttl)]


def _responses(*errors: type[AssentError]) -> dict[int | str, dict[str, Any]]:
    """`error_responses`, naming every error a status stands for (409 and 410 have two)."""
    merged = error_responses(*errors)
    for status_code, response in merged.items():
        names = [error.__name__ for error in errors if error.status_code == status_code]
        response["description"] = " | ".join(names)
    return merged


@router.get("/deliveries", responses=_responses(Unauthenticated))
async def get_deliveries(
    licence_ids: LicenceIds, caller: CurrentCaller, session: Session
) -> list[DeliveryRead]:
    """Batch read by licence, in the order asked; deliveries the caller may not see are left out."""
    return await delivery_service.get_many(session, caller, licence_ids)


@router.get("/deliveries/{delivery_id}", responses=_responses(Unauthenticated, NotFound))
async def get_delivery(
    delivery_id: uuid.UUID, caller: CurrentCaller, session: Session
) -> DeliveryRead:
    """One delivery: its buyer's, or any for admins and auditors."""
    return await delivery_service.get(session, caller, delivery_id)


@router.get(
    "/deliveries/{delivery_id}/manifest",
    responses=_responses(
        Unauthenticated, NotFound, DeliveryNotReady, DeliveryEmpty, ServiceUnavailable
    ),
)
async def get_manifest(
    delivery_id: uuid.UUID, caller: CurrentCaller, session: Session, store: Store
) -> ManifestRead:
    """The signed manifest (a DSSE envelope) exactly as stored."""
    return await delivery_service.manifest(session, caller, delivery_id, store=store)


@router.get(
    "/deliveries/{delivery_id}/files",
    responses=_responses(Unauthenticated, NotFound, DeliveryNotReady, InvalidRequest),
)
async def get_files(
    delivery_id: uuid.UUID,
    caller: CurrentCaller,
    session: Session,
    first: PageSize = MAX_PAGE_SIZE,
    after: str | None = None,
) -> DeliveryFilePage:
    """The manifest's entries in manifest order, a page at a time."""
    return await delivery_service.files(session, caller, delivery_id, first=first, after=after)


@router.get("/manifests", responses=_responses(Unauthenticated, InvalidRequest, ServiceUnavailable))
async def get_manifests(
    delivery_ids: DeliveryIds, caller: CurrentCaller, session: Session, store: Store
) -> list[ManifestRead]:
    """Batch read of signed manifests, in the order asked; deliveries the caller may not
    see, or with no manifest yet, are left out."""
    return await delivery_service.manifests(session, caller, delivery_ids, store=store)


@router.get("/files", responses=_responses(Unauthenticated, InvalidRequest))
async def get_first_files(
    delivery_ids: DeliveryIds,
    caller: CurrentCaller,
    session: Session,
    first: PageSize = MAX_PAGE_SIZE,
) -> list[DeliveryFiles]:
    """Batch read of the first page of each delivery's files, in the order asked; the next
    pages come from each delivery's own files."""
    return await delivery_service.first_files(session, caller, delivery_ids, first=first)


@router.post(
    "/deliveries/{delivery_id}/files/{fingerprint}/link",
    responses=_responses(
        Unauthenticated,
        Forbidden,
        NotFound,
        DeliveryNotReady,
        LicenceRevoked,
        LicenceExpired,
        ServiceUnavailable,
    ),
)
async def create_link(
    delivery_id: uuid.UUID,
    fingerprint: Fingerprint,
    caller: CurrentCaller,
    session: Session,
    store: Store,
    ttl: LinkTtl,
) -> DownloadLink:
    """Check the buyer's entitlement now, record the download, return a short-lived URL."""
    return await delivery_service.link(
        session, caller, delivery_id, fingerprint, store=store, ttl=ttl
    )


@router.post("/trace", responses=_responses(Unauthenticated, Forbidden))
async def trace_manifest(trace_in: TraceIn, caller: CurrentCaller, session: Session) -> TraceResult:
    """Trace a leaked manifest, whole or partial, to the licence it was issued under."""
    return await trace_service.trace(session, caller, trace_in)


@router.get("/keys", responses=_responses(Unauthenticated))
async def get_keys(_caller: CurrentCaller, keys: Keys) -> list[PublicKeyRead]:
    """The public keys that verify manifests."""
    return delivery_service.keys(keys)
