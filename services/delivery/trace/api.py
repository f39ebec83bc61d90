"""Tracing a leaked manifest (the contract is `services.contracts.delivery`)."""

from fastapi import APIRouter

from services.contracts.delivery import TraceIn, TraceResult
from services.delivery.dependencies import Session
from services.delivery.trace.service import trace_service
from services.kit.errors import Forbidden, Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller

router = APIRouter(prefix="/v1", tags=["delivery"])


@router.post("/trace", responses=error_responses(Unauthenticated, Forbidden))
async def trace_manifest(trace_in: TraceIn, caller: CurrentCaller, session: Session) -> TraceResult:
    """Trace a leaked manifest, whole or partial, to the licence it was issued under."""
    return await trace_service.trace(session, caller, trace_in)
