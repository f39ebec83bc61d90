"""Licence chains, proven (the contract is `services.contracts.audit`)."""

import uuid

from fastapi import APIRouter

from services.audit.chain.service import chain_service
from services.audit.dependencies import Session
from services.contracts.audit import ChainRead
from services.kit.errors import InvalidRequest, NotFound, Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller

router = APIRouter(prefix="/v1", tags=["audit"])

_CHAIN = error_responses(Unauthenticated, NotFound, InvalidRequest)


@router.get("/chains/works/{work_id}", responses=_CHAIN)
async def get_work_chain(
    work_id: uuid.UUID,
    caller: CurrentCaller,
    session: Session,
    tree_size: int | None = None,
    consistent_with: int | None = None,
) -> ChainRead:
    """A work's chain, proven: for auditors, admins, its creator, its buyers (their licences)."""
    return await chain_service.work_chain(
        session, caller, work_id, tree_size=tree_size, consistent_with=consistent_with
    )


@router.get("/chains/licences/{licence_id}", responses=_CHAIN)
async def get_licence_chain(
    licence_id: uuid.UUID,
    caller: CurrentCaller,
    session: Session,
    tree_size: int | None = None,
    consistent_with: int | None = None,
) -> ChainRead:
    """A licence's chain and its works' consents, proven: for auditors, admins and its buyer."""
    return await chain_service.licence_chain(
        session, caller, licence_id, tree_size=tree_size, consistent_with=consistent_with
    )
