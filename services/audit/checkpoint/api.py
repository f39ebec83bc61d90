"""Checkpoints, proofs and the keys that verify them (the contract is
`services.contracts.audit`)."""

from fastapi import APIRouter

from services.audit.checkpoint.service import proof_service
from services.audit.dependencies import Session
from services.audit.errors import NoCheckpoint
from services.contracts.audit import CheckpointProof, ConsistencyProof, InclusionProof
from services.kit.errors import InvalidRequest, Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller

router = APIRouter(prefix="/v1", tags=["audit"])

_PROOF = error_responses(Unauthenticated, NoCheckpoint, InvalidRequest)


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
