"""Reading deliveries, their manifests and files (the contract is
`services.contracts.delivery`)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.contracts.catalogue import MAX_PAGE_SIZE
from services.contracts.delivery import DeliveryFilePage, DeliveryFiles, DeliveryRead, ManifestRead
from services.delivery.delivery.service import delivery_service
from services.delivery.dependencies import Session, Store
from services.delivery.errors import DeliveryEmpty, DeliveryNotReady
from services.kit.errors import (
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller

router = APIRouter(prefix="/v1", tags=["delivery"])

LicenceIds = Annotated[
    list[uuid.UUID], Query(alias="licence_id", min_length=1, max_length=MAX_PAGE_SIZE)
]
DeliveryIds = Annotated[
    list[uuid.UUID], Query(alias="delivery_id", min_length=1, max_length=MAX_PAGE_SIZE)
]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


@router.get("/deliveries", responses=error_responses(Unauthenticated))
async def get_deliveries(
    licence_ids: LicenceIds, caller: CurrentCaller, session: Session
) -> list[DeliveryRead]:
    """Batch read by licence, in the order asked; deliveries the caller may not see are left out."""
    return await delivery_service.get_many(session, caller, licence_ids)


@router.get("/deliveries/{delivery_id}", responses=error_responses(Unauthenticated, NotFound))
async def get_delivery(
    delivery_id: uuid.UUID, caller: CurrentCaller, session: Session
) -> DeliveryRead:
    """One delivery: its buyer's, or any for admins and auditors."""
    return await delivery_service.get(session, caller, delivery_id)


@router.get(
    "/deliveries/{delivery_id}/manifest",
    responses=error_responses(
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
    responses=error_responses(Unauthenticated, NotFound, DeliveryNotReady, InvalidRequest),
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


@router.get(
    "/manifests", responses=error_responses(Unauthenticated, InvalidRequest, ServiceUnavailable)
)
async def get_manifests(
    delivery_ids: DeliveryIds, caller: CurrentCaller, session: Session, store: Store
) -> list[ManifestRead]:
    """Batch read of signed manifests, in the order asked; deliveries the caller may not
    see, or with no manifest yet, are left out."""
    return await delivery_service.manifests(session, caller, delivery_ids, store=store)


@router.get("/files", responses=error_responses(Unauthenticated, InvalidRequest))
async def get_first_files(
    delivery_ids: DeliveryIds,
    caller: CurrentCaller,
    session: Session,
    first: PageSize = MAX_PAGE_SIZE,
) -> list[DeliveryFiles]:
    """Batch read of the first page of each delivery's files, in the order asked; the next
    pages come from each delivery's own files."""
    return await delivery_service.first_files(session, caller, delivery_ids, first=first)
