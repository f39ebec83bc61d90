"""Consent in the platform's words: statements, the rights attestation, consent records."""

import hashlib
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self
from uuid import UUID

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from services.contracts.catalogue._base import Schema, Use


class StatementScope(StrEnum):
    """What a platform statement is agreed to for: one current statement per scope."""

    OPT_IN = "opt_in"
    """Giving or revising consent to a work's uses, with the rights attestation."""
    WITHDRAWAL = "withdrawal"


LEGACY_STATEMENT_ID = "legacy"
"""The statement id of consents whose words were free text, recorded before the platform
published its statements; their words are kept as they were agreed."""

StatementId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$")]

StatementVersion = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]{0,49}$")]


def statement_sha256(text: str) -> str:
    """A statement's content address: the sha256 of its exact words in UTF-8."""
    return hashlib.sha256(text.encode()).hexdigest()


class ConsentKind(StrEnum):
    GIVEN = "given"
    REVISED = "revised"
    WITHDRAWN = "withdrawn"


class RightsAttestation(Schema):
    """What the creator attests to with their consent, in the statement's own words."""

    owns_rights: bool = Field(description="They own or control the rights in the work.")
    depicts_identifiable_people: bool = Field(
        description="The work depicts people who can be identified."
    )
    holds_releases: bool = Field(
        default=False,
        validate_default=True,
        description="They hold a release from each person the work depicts.",
    )

    @field_validator("owns_rights")
    @classmethod
    def _rights_attested(cls, owns_rights: bool) -> bool:
        if not owns_rights:
            raise PydanticCustomError(
                "rights_not_attested",
                "only the person who owns or controls the rights in a work may consent to its use",
            )
        return owns_rights

    @field_validator("holds_releases")
    @classmethod
    def _releases_attested(cls, holds_releases: bool, info: ValidationInfo) -> bool:
        if info.data.get("depicts_identifiable_people") and not holds_releases:
            raise PydanticCustomError(
                "releases_not_attested",
                "a work that depicts identifiable people needs a release from each of them",
            )
        return holds_releases


class StatementChoice(Schema):
    """A platform statement, chosen by id and version; no other words are accepted."""

    statement_id: StatementId
    statement_version: StatementVersion


class ConsentIn(StatementChoice):
    uses: list[Use] = Field(min_length=1)
    attestation: RightsAttestation


class ConsentWithdrawIn(StatementChoice):
    pass


class ConsentRead(Schema):
    id: UUID
    work_id: UUID
    sequence: int
    kind: ConsentKind
    uses: list[Use]
    statement_id: str = Field(description=f"{LEGACY_STATEMENT_ID}: free words recorded before")
    statement_version: str
    statement_sha256: str = Field(description="sha256 of the statement's exact words (UTF-8)")
    attestation: RightsAttestation | None = Field(
        description="None on a withdrawal, and on consents recorded before attestations"
    )
    given_by: UUID
    given_at: datetime


class StatementRead(Schema):
    """A statement the platform publishes: its exact words, and the scope it is for."""

    id: str
    version: str
    scope: StatementScope
    current: bool = Field(description="The version the platform asks for now in its scope")
    published_on: date
    sha256: str
    text: str


class StatementTextRead(Schema):
    """The exact words stored under a sha256, published or from before (legacy)."""

    sha256: str
    text: str


class ConsentRecorded(Schema):
    """A consent record as the chain holds it, with the exact words agreed to. Entries
    logged before statements were chosen by id carry the hash alone."""

    consent_id: UUID
    work_id: UUID
    kind: ConsentKind
    uses: list[Use]
    statement_id: str | None = None
    statement_version: str
    statement_sha256: str
    statement_text: str | None = None
    attestation: RightsAttestation | None = None
    given_by: UUID
    given_at: datetime
    sale_uses: list[Use] | None = Field(
        default=None,
        description="The uses every member's consents allow together once this is "
        "recorded: the most the work may be sold for. Absent from entries logged before "
        "co-creators consented, when the owner's uses were the work's.",
    )

    @model_validator(mode="after")
    def _words_match_their_hash(self) -> Self:
        # An auditor reads these words as what the creator agreed to: they must be the
        # words whose hash the catalogue recorded.
        if self.statement_text is not None and statement_sha256(self.statement_text) != (
            self.statement_sha256
        ):
            raise PydanticCustomError(
                "statement_hash_mismatch", "statement_text does not hash to statement_sha256"
            )
        return self
