"""Training receipts: labs' keys and runs, and which models creators' works went into."""

import re
import uuid

import pydantic
import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.errors import (
    REFUSALS,
    Conflict,
    Forbidden,
    ModelsCapReached,
    NotFound,
    ValidationFailed,
    failure,
)
from gateway.types.training import (
    RecordTrainingRunResult,
    TrainedModel,
    TrainedModelList,
    TrainedModelsResult,
    TrainingKey,
    TrainingKeyList,
    TrainingKeyResult,
    TrainingKeysResult,
    TrainingRun,
    TrainingRunList,
    TrainingRunResult,
    TrainingRunsResult,
)
from services.contracts import licensing as contract
from services.contracts.catalogue import MAX_PAGE_SIZE
from services.kit import errors

KEY_ID = re.compile(r"[0-9a-f]{16}")
"""A receipt key's id: the first 16 hex digits of its sha256."""


def _ids(values: list[strawberry.ID], field: str) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(str(value)) for value in values]
    except ValueError:
        raise errors.InvalidRequest(
            f"{field} must be ids",
            fields=[errors.FieldError(field, "is not an id", "invalid_id")],
        ) from None


@strawberry.type
class TrainingQuery:
    @strawberry.field(description="Your training runs, newest first (of one model, if named).")
    async def training_runs(
        self, info: Info[Context, None], model: str | None = None
    ) -> TrainingRunsResult:
        ctx = info.context
        try:
            runs = await ctx.training.runs(ctx.require_principal(), model)
        except errors.AssentError as error:
            return failure(error, *REFUSALS)
        return TrainingRunList(items=[TrainingRun.of(run) for run in runs])

    @strawberry.field(description="One training run's receipt.")
    async def training_run(self, info: Info[Context, None], id: strawberry.ID) -> TrainingRunResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            try:
                run_id = uuid.UUID(str(id))
            except ValueError:
                raise errors.NotFound("no such training run") from None
            run = await ctx.training.run(principal, run_id)
        except errors.AssentError as error:
            return failure(error, NotFound, *REFUSALS)
        return TrainingRun.of(run)

    @strawberry.field(description="The keys your training receipts are signed with.")
    async def training_keys(self, info: Info[Context, None]) -> TrainingKeysResult:
        ctx = info.context
        try:
            keys = await ctx.training.keys(ctx.require_principal())
        except errors.AssentError as error:
            return failure(error, *REFUSALS)
        return TrainingKeyList(items=[TrainingKey.of(key) for key in keys])

    @strawberry.field(
        description="Which lab trained which model on your works (creators; any work for "
        "admins and auditors). Works that are not yours are left out."
    )
    async def trained_models(
        self, info: Info[Context, None], work_ids: list[strawberry.ID]
    ) -> TrainedModelsResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            if not 1 <= len(work_ids) <= MAX_PAGE_SIZE:
                raise errors.InvalidRequest(
                    f"name 1 to {MAX_PAGE_SIZE} works",
                    fields=[errors.FieldError("workIds", "too many or none", "out_of_range")],
                )
            trained = await ctx.training.trained_models(principal, _ids(work_ids, "workIds"))
        except errors.AssentError as error:
            return failure(error, ValidationFailed, *REFUSALS)
        return TrainedModelList(items=[TrainedModel.of(item) for item in trained])


@strawberry.type
class TrainingMutation:
    @strawberry.mutation(
        description="Register an Ed25519 public key (raw 32 bytes, base64) to sign your "
        "training receipts with."
    )
    async def register_training_key(
        self, info: Info[Context, None], public_key: str
    ) -> TrainingKeyResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            key = await ctx.training.register_key(
                principal, contract.TrainingKeyIn(public_key=public_key)
            )
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, Forbidden, ValidationFailed, *REFUSALS)
        return TrainingKey.of(key)

    @strawberry.mutation(description="Stop accepting receipts signed with one of your keys.")
    async def revoke_training_key(
        self, info: Info[Context, None], key_id: str
    ) -> TrainingKeyResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            if not KEY_ID.fullmatch(key_id):
                raise errors.NotFound("no such key")
            key = await ctx.training.revoke_key(principal, key_id)
        except errors.AssentError as error:
            return failure(error, NotFound, *REFUSALS)
        return TrainingKey.of(key)

    @strawberry.mutation(
        description="Record a training run: `statement` is the JSON text your key signed "
        "(the SDK builds and signs it). Checked against your licences and each work's "
        "models cap, countersigned and logged. Conflict codes: LicenceNotUsable, RunIdReused."
    )
    async def record_training_run(
        self, info: Info[Context, None], statement: str, key_id: str, signature: str
    ) -> RecordTrainingRunResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            run_in = contract.TrainingRunIn(
                statement=contract.TrainingStatement.model_validate_json(statement),
                key_id=key_id,
                signature=signature,
            )
            run = await ctx.training.record(principal, run_in)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                error, ModelsCapReached, Conflict, NotFound, Forbidden, ValidationFailed, *REFUSALS
            )
        return TrainingRun.of(run)
