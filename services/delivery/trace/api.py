"""Tracing a leaked manifest (the contract is `services.contracts.delivery`)."""

from fastapi import APIRouter, Request

from services.contracts.delivery import FileTraceIn, FileTraceResult, TraceIn, TraceResult
from services.delivery.dependencies import Session
from services.delivery.provenance.trace import file_trace_service
from services.delivery.trace.service import trace_service
from services.kit.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller

router = APIRouter(prefix="/v1", tags=["delivery"])


@router.post("/trace", responses=error_responses(Unauthenticated, Forbidden))
async def trace_manifest(trace_in: TraceIn, caller: CurrentCaller, session: Session) -> TraceResult:
    """Trace a leaked manifest, whole or partial, to the licence it was issued under."""
    return await trace_service.trace(session, caller, trace_in)


@router.post(
    "/trace/file",
    responses=error_responses(Unauthenticated, Forbidden, NotFound, InvalidRequest),
)
async def trace_file(
    trace_in: FileTraceIn, caller: CurrentCaller, session: Session, request: Request
) -> FileTraceResult:
    """Name the licence a file was delivered under, from its embedded C2PA manifest or its
    sha256 (auditors and admins; a buyer, their own files)."""
    return await file_trace_service.trace(
        session, caller, trace_in, provenance=request.app.state.provenance
    )
