"""Bundles' routes."""

import uuid

from fastapi import APIRouter, status

from services.contracts.licensing import (
    BundleCreate,
    BundlePage,
    BundleRead,
)
from services.contracts.roles import Role
from services.kit.errors import (
    Forbidden,
    InvalidRequest,
    ServiceUnavailable,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller, require_role
from services.licensing.bundle.service import bundle_service
from services.licensing.dependencies import READ, Catalogue, First, Session

router = APIRouter(prefix="/v1", tags=["licensing"])


@router.post(
    "/bundles",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthenticated, Forbidden, InvalidRequest, ServiceUnavailable),
)
async def create_bundle(
    bundle: BundleCreate, caller: CurrentCaller, session: Session, catalogue: Catalogue
) -> BundleRead:
    """Save a selection of works (buyers): the ids given, or what a search finds now."""
    require_role(caller, Role.BUYER)
    return await bundle_service.create(session, caller, bundle, catalogue=catalogue)


@router.get("/bundles", responses=error_responses(Unauthenticated, InvalidRequest))
async def list_bundles(
    caller: CurrentCaller, session: Session, first: First = 20, after: str | None = None
) -> BundlePage:
    """The caller's own bundles, newest first."""
    return await bundle_service.page(session, caller, after=after, first=first)


@router.get("/bundles/{bundle_id}", responses=error_responses(*READ))
async def get_bundle(bundle_id: uuid.UUID, caller: CurrentCaller, session: Session) -> BundleRead:
    """One bundle: its buyer's, or any for admins and auditors."""
    return await bundle_service.get(session, caller, bundle_id)
