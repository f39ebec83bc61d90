"""Creators' statements' route."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.contracts.licensing import (
    EarningsQuery,
    EarningsRead,
)
from services.kit.errors import Forbidden, InvalidRequest, Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller
from services.licensing.dependencies import Session
from services.licensing.earnings.service import earnings_service

router = APIRouter(prefix="/v1", tags=["licensing"])


@router.get("/earnings", responses=error_responses(Unauthenticated, Forbidden, InvalidRequest))
async def get_earnings(
    query: Annotated[EarningsQuery, Query()], caller: CurrentCaller, session: Session
) -> EarningsRead:
    """A creator's statement: every share of every sale, by work and period, and payouts."""
    return await earnings_service.statement(session, caller, query)
