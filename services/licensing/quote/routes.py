"""Quotes' routes."""

import uuid
from datetime import timedelta

from fastapi import APIRouter, status

from services.contracts.licensing import (
    QuoteIn,
    QuoteRead,
)
from services.contracts.roles import Role
from services.kit.errors import (
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller, require_role
from services.licensing.dependencies import READ, Catalogue, LicensingSettings, Session
from services.licensing.quote.service import quote_service

router = APIRouter(prefix="/v1", tags=["licensing"])


@router.post(
    "/quotes",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthenticated, Forbidden, NotFound, ServiceUnavailable),
)
async def create_quote(
    quote: QuoteIn,
    caller: CurrentCaller,
    session: Session,
    catalogue: Catalogue,
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


@router.get("/quotes/{quote_id}", responses=error_responses(*READ))
async def get_quote(quote_id: uuid.UUID, caller: CurrentCaller, session: Session) -> QuoteRead:
    """One quote, with its status now (open, purchased or expired)."""
    return await quote_service.get(session, caller, quote_id)
