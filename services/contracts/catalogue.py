"""What crosses HTTP between the catalogue and its callers (the gateway, later licensing)."""

import hashlib
import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from services.contracts.text import NulFreeStr

BASIS_POINTS_WHOLE = 10_000
MAX_PAGE_SIZE = 100
SHA256_HEX = r"^[0-9a-f]{64}$"

# ISO 4217 currencies accepted for offers, with their number of minor-unit digits.
CURRENCY_MINOR_DIGITS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "CAD": 2,
    "AUD": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "JPY": 0,
}
MAX_PRICE_MINOR = 10**12
"""Above this a price is a typo (ten billion euros), not an offer."""


class MediaType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    OTHER = "other"


class Use(StrEnum):
    """What a licensee may do with a work; consent and offers are sets of these."""

    TRAINING = "training"
    FINE_TUNING = "fine_tuning"
    RETRIEVAL = "retrieval"
    EVALUATION = "evaluation"
    SYNTHETIC_DATA = "synthetic_data"


class WorkStatus(StrEnum):
    PENDING_UPLOAD = "pending_upload"
    """No version of the file has been verified yet."""
    READY = "ready"
    WITHDRAWN = "withdrawn"


class ReviewStatus(StrEnum):
    CLEAR = "clear"
    FLAGGED = "flagged"
    """The same sha256 is listed by another creator; hidden from buyers until reviewed."""


class InvitationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class SaleReasonCode(StrEnum):
    """Why a work is not for sale; a work for sale has none."""

    AWAITING_CO_CREATOR = "awaiting_co_creator"
    """A co-creator has not accepted their share, or holds no consent covering the offer."""
    HELD_FOR_REVIEW = "held_for_review"
    OFFER_WIDER_THAN_CONSENT = "offer_wider_than_consent"
    WITHDRAWN = "withdrawn"
    NO_OFFER = "no_offer"
    NO_FILE = "no_file"
    NO_CONSENT = "no_consent"


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


class UploadMethod(StrEnum):
    SINGLE = "single"
    MULTIPART = "multipart"


class VersionStatus(StrEnum):
    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"


class SearchSort(StrEnum):
    RELEVANCE = "relevance"
    NEWEST = "newest"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


Tag = Annotated[
    NulFreeStr, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50)
]
Sha256 = Annotated[str, StringConstraints(to_lower=True, pattern=SHA256_HEX)]


# --- works and uploads ---


class CreatorRead(Schema):
    id: UUID
    name: str


ACCOUNTS_ISSUER = "gateway"
"""The process that owns the accounts, and so may confirm that one is a creator."""
MAX_SHARES = 100


class ShareIn(Schema):
    creator_id: UUID
    basis_points: int = Field(ge=1, le=BASIS_POINTS_WHOLE)


class SharesChange(Schema):
    """New co-creator shares for a work, in attribution order; each co-creator whose
    share changes is asked to accept it again."""

    shares: list[ShareIn] = Field(
        min_length=1,
        max_length=MAX_SHARES,
        description="Co-creator splits summing to 10000 basis points, the owner's included.",
    )


class ShareRead(Schema):
    creator_id: UUID
    creator_name: str
    basis_points: int


class FileIn(Schema):
    file_name: NulFreeStr = Field(min_length=1, max_length=255)
    size: int = Field(gt=0, le=5 * 1024**4)
    sha256: Sha256


class WorkCreate(FileIn):
    title: NulFreeStr = Field(min_length=1, max_length=300)
    description: NulFreeStr = Field(default="", max_length=10_000)
    media_type: MediaType
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    language: str = Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35)
    shares: list[ShareIn] = Field(
        default_factory=list,
        max_length=MAX_SHARES,
        description="Co-creator splits summing to 10000 basis points; empty: all to the owner.",
    )
    confirmed_creators: list[CreatorRead] = Field(
        default_factory=list,
        max_length=MAX_SHARES,
        description="Co-creators the accounts' owner (the gateway) found to be creator "
        "accounts when it forwarded this call. The catalogue hears of new accounts through "
        "the outbox, a moment later; honoured from the gateway only.",
    )


class VersionRead(Schema):
    id: UUID
    number: int
    file_name: str
    size: int
    sha256: str
    status: VersionStatus
    failure_reason: str | None
    created_at: datetime
    completed_at: datetime | None


WORLD = "WORLD"
TERRITORY_CODE = re.compile(r"[A-Z]{2}")


def _territory_shape(code: str) -> str:
    # The shape only: which codes name a country is the catalogue's check (pycountry),
    # since the contracts hold no data the lab client would have to install.
    if code != WORLD and not TERRITORY_CODE.fullmatch(code):
        raise PydanticCustomError(
            "territory",
            "{code} is not a territory: give an ISO 3166-1 alpha-2 country code (e.g. GB) or WORLD",
            {"code": code},
        )
    return code


Territory = Annotated[str, AfterValidator(_territory_shape)]


class Terms(Schema):
    """Structured licence terms; canonicalised and hashed, so equal terms share one id."""

    uses: list[Use] = Field(min_length=1)
    commercial_use: bool
    attribution_required: bool
    territory: list[Territory] = Field(
        default_factory=lambda: ["WORLD"],
        min_length=1,
        description="ISO 3166-1 alpha-2 country codes, or WORLD",
    )
    duration_days: int = Field(ge=1, le=36_500)
    exclusivity_days: int = Field(default=0, ge=0, le=36_500)
    max_models: int | None = Field(default=None, ge=1)


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


class OfferIn(Schema):
    price_minor: int = Field(gt=0, le=MAX_PRICE_MINOR)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    terms: Terms


class OfferRead(Schema):
    id: UUID
    work_id: UUID
    price_minor: int
    currency: str
    terms_id: str = Field(description="sha256 of the canonical terms")
    terms: Terms
    published_at: datetime


class SaleReason(Schema):
    code: SaleReasonCode
    detail: str = Field(description="The reason in plain words")
    creator_id: UUID | None = Field(
        default=None, description="awaiting_co_creator: the co-creator who is missing"
    )
    creator_name: str | None = None


class WorkRead(Schema):
    id: UUID
    owner_id: UUID
    title: str
    description: str
    media_type: MediaType
    tags: list[str]
    language: str
    status: WorkStatus
    review_status: ReviewStatus
    listed: bool = Field(description="Offered to buyers right now")
    created_at: datetime
    withdrawn_at: datetime | None
    current_version: VersionRead | None
    pending_version: VersionRead | None
    shares: list[ShareRead]
    consent: ConsentRead | None = Field(description="The newest consent record")
    offer: OfferRead | None = Field(description="The current offer")
    sale_status: list[SaleReason] = Field(
        default_factory=list, description="Why the work is not for sale; empty when listed"
    )


class PresignedPut(Schema):
    url: str
    headers: dict[str, str]
    expires_at: datetime


class PresignedPart(PresignedPut):
    part_number: int


class UploadedPartRead(Schema):
    part_number: int
    size: int
    sha256: str | None


class UploadTarget(Schema):
    """Where the client sends the bytes of a pending version."""

    work_id: UUID
    version_id: UUID
    method: UploadMethod
    put: PresignedPut | None = Field(description="single: one presigned PUT")
    part_size: int | None = Field(description="multipart: every part but the last has this size")
    part_count: int | None
    uploaded_parts: list[UploadedPartRead] = Field(
        description="multipart: parts already stored, so an interrupted upload resumes"
    )


class WorkCreated(Schema):
    work: WorkRead
    upload: UploadTarget


class PartIn(Schema):
    part_number: int = Field(ge=1, le=10_000)
    sha256: Sha256


class PartsIn(Schema):
    parts: list[PartIn] = Field(min_length=1, max_length=100)


class UploadCompleted(Schema):
    work: WorkRead
    completed: bool
    reason: str | None = Field(description="Why the upload was refused (size or sha256 mismatch)")


class InvitationRead(Schema):
    """A co-creator's invitation to a work: their share, and their answer."""

    id: UUID
    work_id: UUID
    work_title: str
    creator_id: UUID
    invited_by: UUID
    basis_points: int
    status: InvitationStatus
    created_at: datetime
    answered_at: datetime | None


# --- reads ---


class WorkPage(Schema):
    items: list[WorkRead]
    next_cursor: str | None


class WorkSearch(Schema):
    """Query parameters of `GET /v1/works/search`."""

    query: str | None = Field(default=None, max_length=500)
    media_types: list[MediaType] = Field(default_factory=list)
    uses: list[Use] = Field(default_factory=list, description="every one must be offered")
    max_price_minor: int | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    creator_id: UUID | None = None
    language: NulFreeStr | None = Field(default=None, max_length=35)
    tags: list[Tag] = Field(default_factory=list, description="every one must be present")
    mine: bool = Field(default=False, description="creators: their own works in every state")
    sort: SearchSort | None = Field(
        default=None, description="default: relevance with a query, newest without"
    )
    first: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    after: str | None = None


class TermsSignals(Schema):
    """The same terms in machine-readable vocabularies a creator can publish on their site."""

    tdmrep: dict[str, object]
    odrl: dict[str, object]
    c2pa: dict[str, object]


class ReviewDecision(Schema):
    accept: bool
    note: NulFreeStr = Field(default="", max_length=2_000)


# --- events ---


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


class OfferPublished(Schema):
    offer_id: UUID
    work_id: UUID
    price_minor: int
    currency: str
    terms_id: str
    terms: Terms
    published_at: datetime


class InvitationEvent(Schema):
    """An invitation sent, accepted or declined: an entry in the work's chain."""

    invitation_id: UUID
    work_id: UUID
    creator_id: UUID
    invited_by: UUID
    basis_points: int
    status: InvitationStatus
    occurred_at: datetime


class WorkWithdrawn(Schema):
    work_id: UUID
    withdrawn_by: UUID
    withdrawn_at: datetime
