"""The audit log's REST API (the contract is `services.contracts.audit`)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import Signer
from services.audit.errors import NoCheckpoint
from services.audit.service import chain_service, proof_service
from services.contracts.audit import ChainRead, CheckpointProof, ConsistencyProof, InclusionProof
from services.contracts.signing import PublicKeyRead
from services.kit.db import get_session
from services.kit.errors import InvalidRequest, NotFound, Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller

router = APIRouter(prefix="/v1", tags=["audit"])

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


def _signer(request: Request) -> Signer:
    signer: Signer = request.app.state.checkpoint_signer
    return signer


CheckpointSigner = Annotated[Signer, Depends(_signer)]

_PROOF = error_responses(Unauthenticated, NoCheckpoint, InvalidRequest)
_CHAIN = error_responses(Unauthenticated, NotFound, InvalidRequest)


@router.get("/checkpoint", responses=_PROOF)
async def get_checkpoint(
    _caller: CurrentCaller,
    session: Session,
    tree_size: int | None = None,
    consistent_with: int | None = None,
) -> CheckpointProof:
    """The latest signed checkpoint (or that of `tree_size`), consistent with an earlier size."""
    return await proof_service.checkpoint(
        session, tree_size=tree_size, consistent_with=consistent_with
    )


@router.get("/proofs/inclusion", responses=_PROOF)
async def get_inclusion_proof(
    _caller: CurrentCaller, session: Session, leaf_index: int, tree_size: int | None = None
) -> InclusionProof:
    """That entry `leaf_index` is in the tree of `tree_size` (default: the latest signed)."""
    return await proof_service.inclusion(session, leaf_index=leaf_index, tree_size=tree_size)


@router.get("/proofs/consistency", responses=_PROOF)
async def get_consistency_proof(
    _caller: CurrentCaller, session: Session, from_size: int, to_size: int | None = None
) -> ConsistencyProof:
    """That the tree of `to_size` (default: the latest signed) extends that of `from_size`."""
    return await proof_service.consistency(session, from_size=from_size, to_size=to_size)


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


@router.get("/keys", responses=error_responses(Unauthenticated))
async def get_keys(_caller: CurrentCaller, signer: CheckpointSigner) -> list[PublicKeyRead]:
    """The public keys that verify checkpoints."""
    return [signer.published()]
