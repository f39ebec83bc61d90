"""A delivery's live status list (the contract is `services.contracts.status_list`)."""

import uuid
from datetime import timedelta

from fastapi import APIRouter, Request

from services.contracts.status_list import StatusListRead
from services.delivery.config import Settings
from services.delivery.dependencies import Session
from services.delivery.errors import DeliveryNotReady
from services.delivery.status.service import status_list_service
from services.kit.errors import NotFound, Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller
from services.kit.keyring import Keyring

router = APIRouter(prefix="/v1", tags=["delivery"])


@router.get(
    "/deliveries/{delivery_id}/status",
    responses=error_responses(Unauthenticated, NotFound, DeliveryNotReady),
)
async def get_status_list(
    delivery_id: uuid.UUID, caller: CurrentCaller, session: Session, request: Request
) -> StatusListRead:
    """The delivery's signed status list: one bit per record of its manifest, set once the
    record may no longer be used (the licence refunded or revoked, or the line ended)."""
    keyring: Keyring = request.app.state.keyring
    settings: Settings = request.app.state.settings
    return await status_list_service.status_list(
        session,
        caller,
        delivery_id,
        signer=await keyring.signer_at(session),
        valid_for=timedelta(seconds=settings.status_list_valid_seconds),
    )
