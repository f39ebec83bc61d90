"""A delivery's WebDataset shards (the contract is `services.contracts.shards`)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request

from services.contracts.delivery import DownloadLink
from services.contracts.shards import SHARD_NAME_PATTERN, ShardSetRead
from services.delivery.config import Settings
from services.delivery.dependencies import LinkTtl, Session, Store
from services.delivery.errors import DeliveryEmpty, DeliveryNotReady, LicenceExpired, LicenceRevoked
from services.delivery.shards.service import shard_service
from services.kit.errors import (
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller

router = APIRouter(prefix="/v1", tags=["delivery"])

ShardName = Annotated[str, Path(pattern=SHARD_NAME_PATTERN)]


@router.post(
    "/deliveries/{delivery_id}/shards",
    responses=error_responses(
        Unauthenticated, Forbidden, NotFound, DeliveryNotReady, DeliveryEmpty, LicenceRevoked
    ),
)
async def request_shards(
    delivery_id: uuid.UUID, caller: CurrentCaller, session: Session, request: Request
) -> ShardSetRead:
    """Ask for the delivery's WebDataset shards and index, built in the background (idempotent)."""
    settings: Settings = request.app.state.settings
    read = await shard_service.request(
        session, caller, delivery_id, shard_bytes=settings.shard_bytes
    )
    request.app.state.shard_builder.wake()
    return read


@router.get(
    "/deliveries/{delivery_id}/shards", responses=error_responses(Unauthenticated, NotFound)
)
async def get_shards(
    delivery_id: uuid.UUID, caller: CurrentCaller, session: Session
) -> ShardSetRead:
    """The delivery's shard set: its shards, index and signed shard manifest once issued."""
    return await shard_service.get(session, caller, delivery_id)


@router.post(
    "/deliveries/{delivery_id}/shards/{name}/link",
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
async def authorise_shard_download(
    delivery_id: uuid.UUID,
    name: ShardName,
    caller: CurrentCaller,
    session: Session,
    store: Store,
    ttl: LinkTtl,
) -> DownloadLink:
    """Check the buyer's entitlement now and return a short-lived URL to one shard or the index."""
    return await shard_service.link(session, caller, delivery_id, name, store=store, ttl=ttl)
