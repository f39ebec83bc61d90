"""A work's consent routes: give (or revise) and withdraw."""

import uuid

from fastapi import status

from services.catalogue.consent.service import consent_service
from services.catalogue.errors import ConsentNotInForce, WorkWithdrawn
from services.catalogue.routes import CHANGE, Session, catalogue_router
from services.contracts.catalogue import ConsentIn, ConsentRead, ConsentWithdrawIn
from services.kit.errors import error_responses
from services.kit.internal_token import CurrentCaller

router = catalogue_router()


@router.post(
    "/works/{work_id}/consents",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(*CHANGE, WorkWithdrawn),
)
async def give_consent(
    work_id: uuid.UUID, consent: ConsentIn, caller: CurrentCaller, session: Session
) -> ConsentRead:
    """Record the creator's opt-in (a new record; a revision when one is in force)."""
    return await consent_service.give_consent(session, caller, work_id, consent)


@router.post(
    "/works/{work_id}/consents/withdraw",
    responses=error_responses(*CHANGE, ConsentNotInForce),
)
async def withdraw_consent(
    work_id: uuid.UUID, withdrawal: ConsentWithdrawIn, caller: CurrentCaller, session: Session
) -> ConsentRead:
    """Record the withdrawal of consent; the work leaves the listing at once."""
    return await consent_service.withdraw_consent(session, caller, work_id, withdrawal)
