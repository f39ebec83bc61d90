"""What crosses HTTP between delivery and its callers (the gateway, the download client).

A manifest is a DSSE envelope (payload type `application/vnd.in-toto+json`) around an
in-toto v1 statement: its subjects are the files (download path and sha256) and its
predicate (`MANIFEST_PREDICATE_TYPE`) holds the header and one entry per file.
"""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.contracts.catalogue import MediaType
from services.contracts.signing import Envelope

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
IN_TOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
MANIFEST_PREDICATE_TYPE = "urn:assent:delivery-manifest:v1"
MAX_TRACE_INPUT_CHARS = 900_000
"""A leaked manifest (or part of one) pasted into `traceManifest`; under the body cap."""


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class DeliveryStatus(StrEnum):
    BUILDING = "building"
    ISSUED = "issued"
    EMPTY = "empty"
    """Every line was left out (its file missing): nothing to deliver, all refunded."""


class DeliveryExclusion(Schema):
    """A granted line that cannot be delivered; licensing refunds it. A withdrawal or a
    consent change after the sale never leaves a line out: licensing orders each sale
    against them by their commits, so every line granted is delivered on its terms."""

    work_id: UUID
    reason: str = Field(
        description="not_found: the file of the version sold is missing from the object "
        "store, or is not the size sold"
    )
    detail: str


class ManifestHeader(Schema):
    delivery_id: UUID
    licence_id: UUID
    bundle_id: UUID
    buyer_id: UUID
    buyer_name: str
    issued_at: datetime
    terms_ids: list[str]
    key_id: str
    entry_count: int


class ManifestEntry(Schema):
    """One file; `fingerprint` (also in `path`) is the buyer's watermark for this entry."""

    work_id: UUID
    version_id: UUID
    file_name: str
    size: int = Field(description="the size of the file as delivered")
    sha256: str = Field(description="sha256 of the file as delivered: the buyer's own copy")
    original_sha256: str | None = Field(
        default=None,
        description="sha256 of the file as uploaded; differs from sha256 when a C2PA "
        "manifest naming the licence was embedded (JPEG, PNG, WebP). Null in manifests "
        "issued before files carried provenance",
    )
    media_type: MediaType
    attribution: str
    terms_id: str
    fingerprint: str
    path: str = Field(description="the download path, relative to the gateway")


class DeliveryRead(Schema):
    id: UUID
    licence_id: UUID
    buyer_id: UUID
    status: DeliveryStatus
    created_at: datetime
    issued_at: datetime | None
    key_id: str | None
    manifest_sha256: str | None = Field(description="sha256 of the envelope as stored")
    entry_count: int
    excluded: list[DeliveryExclusion]


class DeliveryFilePage(Schema):
    """The manifest's entries in manifest order, a page at a time."""

    items: list[ManifestEntry]
    next_cursor: str | None


class DeliveryFiles(DeliveryFilePage):
    """The first page of one delivery's files, in a batch read of several deliveries."""

    delivery_id: UUID


class ManifestRead(Schema):
    delivery_id: UUID
    envelope: Envelope


class DownloadLink(Schema):
    """Where to fetch the bytes: short-lived, issued only after the entitlement check."""

    url: str
    expires_at: datetime
    size: int
    sha256: str


class TraceIn(Schema):
    manifest: str = Field(
        min_length=1,
        max_length=MAX_TRACE_INPUT_CHARS,
        description="the leaked text: a whole manifest, an envelope, or any part of either",
    )


class TraceMatch(Schema):
    delivery_id: UUID
    licence_id: UUID
    buyer_id: UUID
    buyer_name: str
    matched_entries: int


class TraceResult(Schema):
    """`licence_id` is set only when the evidence names one delivery beyond doubt."""

    licence_id: UUID | None
    delivery_id: UUID | None
    buyer_id: UUID | None
    buyer_name: str | None
    confidence: float = Field(ge=0, le=1)
    entries_examined: int = Field(description="candidate fingerprints found in the input")
    entries_matched: int
    order_agreement: float | None = Field(
        description="share of matched entry pairs in the delivery's keyed order"
    )
    evidence: list[str]
    candidates: list[TraceMatch]


MAX_TRACE_FILE_BYTES = 720 * 1024
"""A file handed to `traceFile`, base64 in a GraphQL variable: 4/3 of this (983,040
characters) leaves room for the rest of the request under the gateway's 1 MiB body cap."""


class FileTraceIn(Schema):
    content_base64: str = Field(
        min_length=1,
        max_length=-(-MAX_TRACE_FILE_BYTES // 3) * 4,
        description="the file's bytes, base64 (standard alphabet, padded)",
    )


class FileProvenance(StrEnum):
    TRACED = "traced"
    """The licence is named: by the embedded manifest, its signature verified, or by the
    file's sha256 being that of a copy Assent delivered."""
    NO_PROVENANCE = "no_provenance"
    """No C2PA manifest (stripped, re-encoded, or a format that carries none) and no
    delivered copy with this sha256."""
    SIGNATURE_FAILS = "signature_fails"
    """A C2PA manifest is there, but its signature or its hash of the file fails: the
    file or its manifest was altered."""
    NOT_ASSENT = "not_assent"
    """A valid C2PA manifest, but not signed under Assent's certificates."""


class FileTraceResult(Schema):
    status: FileProvenance
    matched_by: str | None = Field(description="manifest, or sha256; null when not traced")
    licence_id: UUID | None
    delivery_id: UUID | None
    buyer_id: UUID | None
    buyer_name: str | None
    work_id: UUID | None
    file_name: str | None
    sha256: str = Field(description="sha256 of the file handed in")
    detail: str
    evidence: list[str]


# --- events ---


class DeliveryIssued(Schema):
    delivery_id: UUID
    licence_id: UUID
    buyer_id: UUID
    status: DeliveryStatus
    issued_at: datetime
    manifest_key: str | None
    manifest_sha256: str | None
    key_id: str
    entry_count: int
    excluded: list[DeliveryExclusion]
    watermark_commitment: str = Field(
        description="sha256 over the licence id and the fingerprints in manifest order"
    )


class FileDownloaded(Schema):
    delivery_id: UUID
    licence_id: UUID
    buyer_id: UUID
    work_id: UUID
    version_id: UUID
    downloaded_at: datetime
