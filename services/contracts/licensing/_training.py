"""Training receipts: a lab's signed statement of what one training run used, which
licensing checks against the lab's licences and the creators' models cap, countersigns
and logs.

The lab signs the canonical JSON of its `TrainingStatement` with an Ed25519 key it
registered; the platform signs the canonical JSON of `PlatformCountersignature` (the
statement's hash, the lab's signature and when it was recorded). Both verify offline from
the logged entry alone (`assent.protocol.verify_training_receipt`).
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from services.contracts.catalogue import Use
from services.contracts.licensing._base import Schema

MAX_RUN_LICENCES = 1_000
MAX_RUN_RECORDS = 100_000
"""A run naming more records is recorded as several receipts (one per slice)."""

ModelName = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^\S.*\S$|^\S$")
]
ModelVersion = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^\S.*\S$|^\S$")
]
Base64Text = Annotated[str, StringConstraints(min_length=1, pattern=r"^[A-Za-z0-9+/=_-]+$")]


class TrainingLicenceUse(Schema):
    """The records (works) of one licence a run used."""

    licence_id: UUID
    work_ids: list[UUID] = Field(min_length=1, max_length=MAX_RUN_RECORDS)


class TrainingStatement(Schema):
    """What the lab signs. `run_id` is the lab's own: recording the same run twice
    returns the same receipt."""

    run_id: UUID
    buyer_id: UUID
    model_name: ModelName
    model_version: ModelVersion
    declared_use: Use
    started_at: AwareDatetime
    ended_at: AwareDatetime
    licences: list[TrainingLicenceUse] = Field(min_length=1, max_length=MAX_RUN_LICENCES)

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.ended_at < self.started_at:
            raise ValueError("the run cannot end before it started")
        licence_ids = [use.licence_id for use in self.licences]
        if len(set(licence_ids)) != len(licence_ids):
            raise ValueError("each licence is named once, with all the records used of it")
        if sum(len(use.work_ids) for use in self.licences) > MAX_RUN_RECORDS:
            raise ValueError(f"a receipt names at most {MAX_RUN_RECORDS} records")
        for use in self.licences:
            if len(set(use.work_ids)) != len(use.work_ids):
                raise ValueError(f"licence {use.licence_id} names a record twice")
        return self


class TrainingRunIn(Schema):
    statement: TrainingStatement
    key_id: str = Field(min_length=1, max_length=64)
    signature: Base64Text = Field(
        description="base64 Ed25519 signature of the statement's canonical JSON"
    )


class PlatformCountersignature(Schema):
    """What the platform signs: that it recorded this statement, so signed, at that time."""

    statement_sha256: str
    lab_key_id: str
    lab_signature: str
    recorded_at: datetime


class TrainingRunRead(Schema):
    id: UUID
    buyer_id: UUID
    buyer_name: str
    model_name: str
    model_version: str
    declared_use: Use
    started_at: datetime
    ended_at: datetime
    licences: list[TrainingLicenceUse]
    record_count: int
    recorded_at: datetime
    statement: TrainingStatement
    statement_sha256: str
    lab_key_id: str
    lab_public_key: str
    lab_signature: str
    platform_key_id: str
    platform_signature: str


class TrainingRecorded(Schema):
    """The event licensing logs for a recorded run: the whole receipt."""

    run: TrainingRunRead


class RefusalReason(StrEnum):
    MODELS_CAP_REACHED = "models_cap_reached"
    """The line's terms allow its work in at most `max_models` models, all taken."""


class TrainingRefused(Schema):
    """A run refused by a creator's rule, logged so the refusal is evidence too."""

    run_id: UUID
    buyer_id: UUID
    model_name: str
    model_version: str
    licence_id: UUID
    work_id: UUID
    reason: RefusalReason
    max_models: int
    refused_at: datetime


class TrainingKeyIn(Schema):
    public_key: Base64Text = Field(description="the raw 32-byte Ed25519 public key, base64")


class TrainingKeyRead(Schema):
    key_id: str = Field(description="the first 16 hex digits of the key's sha256")
    public_key: str
    created_at: datetime
    revoked_at: datetime | None


class TrainedModel(Schema):
    """A creator's view of a run: which lab trained which model on their work."""

    work_id: UUID
    run_id: UUID
    lab_name: str
    model_name: str
    model_version: str
    declared_use: Use
    recorded_at: datetime
