"""Downloading a delivery's files (the contract is `services.contracts.delivery`)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path

from services.contracts.delivery import DownloadLink
from services.delivery.dependencies import LinkTtl, Session, Store
from services.delivery.download.service import download_service
from services.delivery.errors import DeliveryNotReady, LicenceExpired, LicenceRevoked
from services.kit.errors import (
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller

router = APIRouter(prefix="/v1", tags=["delivery"])

Fingerprint = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@router.post(
    "/deliveries/{delivery_id}/files/{fingerprint}/link",
    responses=error_responses(
        Unauthenticated,
        Forbidden,
        NotFound,
        DeliveryNotReady,
        LicenceRevoked,
        LicenceExpired,
        ServiceUnavailable,
    ),
)
async def authorise_download(
    delivery_id: uuid.UUID,
    fingerprint: Fingerprint,
    caller: CurrentCaller,
    session: Session,
    store: Store,
    ttl: LinkTtl,
) -> DownloadLink:
    """Check the buyer's entitlement now, record the download, return a short-lived URL."""
    return await download_service.entitled_link(
        session, caller, delivery_id, fingerprint, store=store, ttl=ttl
    )
