"""Training receipts: a lab's runs on licensed records, and creators' view of them."""

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from gateway.types.catalogue import Use
from gateway.types.errors import (
    Conflict,
    Forbidden,
    ModelsCapReached,
    NotFound,
    Refusals,
    ValidationFailed,
)
from services.contracts import licensing as contract


@strawberry.type
class TrainingKey:
    key_id: str
    public_key: str = strawberry.field(description="The raw Ed25519 public key, base64.")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: contract.TrainingKeyRead) -> "TrainingKey":
        return cls(
            key_id=key.key_id,
            public_key=key.public_key,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


@strawberry.type
class TrainingLicenceUse:
    licence_id: strawberry.ID
    work_ids: list[strawberry.ID]


@strawberry.type(description="A signed receipt of one training run on licensed records.")
class TrainingRun:
    id: strawberry.ID
    buyer_id: strawberry.ID
    buyer_name: str
    model_name: str
    model_version: str
    declared_use: Use
    started_at: datetime
    ended_at: datetime
    recorded_at: datetime
    record_count: int
    licences: list[TrainingLicenceUse]
    receipt: JSON = strawberry.field(
        description="The whole receipt (statement and both signatures), as "
        "`assent.protocol.verify_training_receipt` checks it offline."
    )

    @classmethod
    def of(cls, run: contract.TrainingRunRead) -> "TrainingRun":
        return cls(
            id=strawberry.ID(str(run.id)),
            buyer_id=strawberry.ID(str(run.buyer_id)),
            buyer_name=run.buyer_name,
            model_name=run.model_name,
            model_version=run.model_version,
            declared_use=Use(run.declared_use.value),
            started_at=run.started_at,
            ended_at=run.ended_at,
            recorded_at=run.recorded_at,
            record_count=run.record_count,
            licences=[
                TrainingLicenceUse(
                    licence_id=strawberry.ID(str(use.licence_id)),
                    work_ids=[strawberry.ID(str(work_id)) for work_id in use.work_ids],
                )
                for use in run.licences
            ],
            receipt=JSON(run.model_dump(mode="json")),
        )


@strawberry.type(description="Which lab trained which model on one of your works.")
class TrainedModel:
    work_id: strawberry.ID
    run_id: strawberry.ID
    lab_name: str
    model_name: str
    model_version: str
    declared_use: Use
    recorded_at: datetime

    @classmethod
    def of(cls, trained: contract.TrainedModel) -> "TrainedModel":
        return cls(
            work_id=strawberry.ID(str(trained.work_id)),
            run_id=strawberry.ID(str(trained.run_id)),
            lab_name=trained.lab_name,
            model_name=trained.model_name,
            model_version=trained.model_version,
            declared_use=Use(trained.declared_use.value),
            recorded_at=trained.recorded_at,
        )


@strawberry.type
class TrainingRunList:
    items: list[TrainingRun]


@strawberry.type
class TrainingKeyList:
    items: list[TrainingKey]


@strawberry.type
class TrainedModelList:
    items: list[TrainedModel]


TrainingKeyResult = Annotated[
    TrainingKey | NotFound | Forbidden | ValidationFailed | Refusals,
    strawberry.union("TrainingKeyResult"),
]
TrainingKeysResult = Annotated[TrainingKeyList | Refusals, strawberry.union("TrainingKeysResult")]
RecordTrainingRunResult = Annotated[
    TrainingRun | ModelsCapReached | Conflict | NotFound | Forbidden | ValidationFailed | Refusals,
    strawberry.union("RecordTrainingRunResult"),
]
TrainingRunResult = Annotated[
    TrainingRun | NotFound | Refusals, strawberry.union("TrainingRunResult")
]
TrainingRunsResult = Annotated[TrainingRunList | Refusals, strawberry.union("TrainingRunsResult")]
TrainedModelsResult = Annotated[
    TrainedModelList | ValidationFailed | Refusals, strawberry.union("TrainedModelsResult")
]
