"""Training receipts' routes: labs' receipt keys, runs, and creators' view of them."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.contracts.catalogue import MAX_PAGE_SIZE
from services.contracts.licensing import (
    TrainedModel,
    TrainingKeyIn,
    TrainingKeyRead,
    TrainingRefused,
    TrainingRunIn,
    TrainingRunRead,
)
from services.contracts.roles import Role
from services.kit.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    Unauthenticated,
    committed_refusal,
    error_responses,
)
from services.kit.internal_token import CurrentCaller, require_role
from services.licensing.dependencies import READ, CertificateSigner, Session
from services.licensing.errors import (
    LicenceNotUsable,
    ModelsCapReached,
    RunIdReused,
    TrainingKeyRejected,
)
from services.licensing.training.service import training_service

router = APIRouter(prefix="/v1/training", tags=["training"])


@router.post("/keys", responses=error_responses(Unauthenticated, Forbidden, InvalidRequest))
async def register_key(
    key: TrainingKeyIn, caller: CurrentCaller, session: Session
) -> TrainingKeyRead:
    """Register an Ed25519 public key the lab signs its training receipts with (buyers)."""
    require_role(caller, Role.BUYER)
    return await training_service.register_key(session, caller, key)


@router.get("/keys", responses=error_responses(Unauthenticated, Forbidden))
async def list_keys(caller: CurrentCaller, session: Session) -> list[TrainingKeyRead]:
    """The lab's receipt keys, revoked ones included."""
    return await training_service.keys(session, caller)


@router.post("/keys/{key_id}/revoke", responses=error_responses(*READ, Forbidden))
async def revoke_key(key_id: str, caller: CurrentCaller, session: Session) -> TrainingKeyRead:
    """Stop accepting receipts signed with a key; those recorded stay valid."""
    return await training_service.revoke_key(session, caller, key_id)


@router.post(
    "/runs",
    response_model=TrainingRunRead,
    responses=error_responses(
        Unauthenticated,
        Forbidden,
        NotFound,
        InvalidRequest,
        TrainingKeyRejected,
        LicenceNotUsable,
        ModelsCapReached,
        RunIdReused,
    ),
)
async def record_run(
    run: TrainingRunIn, caller: CurrentCaller, session: Session, signer: CertificateSigner
) -> TrainingRunRead | JSONResponse:
    """Record a signed training run (buyers): checked against the lab's licences and each
    work's models cap, countersigned and logged. The same run id answers the same receipt."""
    require_role(caller, Role.BUYER)
    recorded = await training_service.record(session, caller, run, signer=signer)
    if isinstance(recorded, TrainingRefused):
        # Returned, not raised, so the logged refusal commits with the answer.
        return committed_refusal(
            ModelsCapReached(
                f"work {recorded.work_id} may be trained into at most {recorded.max_models} "
                f"models under licence {recorded.licence_id}; this run was refused and the "
                "refusal logged"
            )
        )
    return recorded


@router.get("/runs", responses=error_responses(Unauthenticated, Forbidden))
async def list_runs(
    caller: CurrentCaller, session: Session, model: str | None = None
) -> list[TrainingRunRead]:
    """A lab's runs newest first (of one model, when named); every lab's for admins and
    auditors."""
    return await training_service.runs(session, caller, model_name=model)


@router.get("/runs/{run_id}", responses=error_responses(*READ, Forbidden))
async def get_run(run_id: uuid.UUID, caller: CurrentCaller, session: Session) -> TrainingRunRead:
    """One run's receipt: its lab's, or any for admins and auditors."""
    return await training_service.run(session, caller, run_id)


@router.get("/by-work", responses=error_responses(Unauthenticated, Forbidden))
async def trained_models(
    work_ids: Annotated[
        list[uuid.UUID], Query(alias="work_id", min_length=1, max_length=MAX_PAGE_SIZE)
    ],
    caller: CurrentCaller,
    session: Session,
) -> list[TrainedModel]:
    """Which lab trained which model on each work: for the works' creators (others' works
    are left out), or any work for admins and auditors."""
    return await training_service.trained_models(session, caller, work_ids)
