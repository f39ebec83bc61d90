"""What crosses HTTP between the audit log and its readers (the gateway, `assent verify`).

The log is an RFC 6962 Merkle tree over the logged entries: each entry is the canonical
JSON (`assent.protocol.canonical_json`) of one chain event's envelope, its leaf hash
is sha256(0x00 || entry) and an inner node sha256(0x01 || left || right). A checkpoint
signs (tree size, root hash, time) as a DSSE envelope (`CHECKPOINT_PAYLOAD_TYPE`).
Hashes travel as lowercase hex; proofs list their hashes bottom-up, as RFC 9162 orders
them.
"""

from datetime import datetime
from enum import StrEnum
from typing import Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.contracts.signing import Envelope, PublicKeyRead

CHECKPOINT_PAYLOAD_TYPE = "application/vnd.assent.audit-checkpoint+json"
CHAIN_EXPORT_TYPE: Final = "application/vnd.assent.licence-chain+json"
LOG_ORIGIN = "assent-audit-log"
"""Names this log inside every checkpoint, so a checkpoint of another log never passes."""

Hash = str
"""64 lowercase hex digits."""

HASH_PATTERN = r"^[0-9a-f]{64}$"


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class Checkpoint(Schema):
    """The signed statement: the log held `tree_size` entries whose root is `root_hash`."""

    origin: str = LOG_ORIGIN
    tree_size: int = Field(ge=0)
    root_hash: Hash = Field(pattern=HASH_PATTERN)
    issued_at: datetime
    subject_heads_root: Hash | None = Field(
        default=None,
        pattern=HASH_PATTERN,
        description="the head map's root as the checkpoint's heads leaf names it "
        "(`assent.protocol.heads_root`), a convenience: the leaf, inside the witnessed "
        "tree, is what proves the map; None on a checkpoint signed before links began",
    )


class CheckpointRead(Schema):
    checkpoint: Checkpoint
    envelope: Envelope = Field(description="the checkpoint's canonical JSON, signed")
    object_key: str = Field(description="where the signed checkpoint is published in the store")
    note: str | None = Field(
        default=None,
        description="the checkpoint as a C2SP signed note (tlog-checkpoint: origin, tree size, "
        "base64 root) with the log's signature line, then each witness's cosignature "
        "(tlog-cosignature); null for a checkpoint signed before notes were",
    )
    witnesses: list[str] = Field(
        default=[],
        description="the vkeys of the witnesses whose cosignatures the note carries, as the log "
        "names them; an auditor pins those it trusts (assent verify --witness)",
    )


class InclusionProof(Schema):
    leaf_index: int = Field(ge=0)
    tree_size: int = Field(ge=1)
    hashes: list[Hash]


class ConsistencyProof(Schema):
    from_size: int = Field(ge=0)
    to_size: int = Field(ge=0)
    hashes: list[Hash]


class CheckpointProof(Schema):
    """The latest (or a chosen) checkpoint, with a consistency proof from an earlier size."""

    checkpoint: CheckpointRead
    consistency: ConsistencyProof | None = None


class ChainSubjectKind(StrEnum):
    WORK = "work"
    LICENCE = "licence"


class ChainStep(StrEnum):
    """What an entry proves, in the words an auditor uses."""

    ACCOUNT = "account"
    CONSENT = "consent"
    OFFER = "offer"
    LICENCE = "licence"
    PAYMENT = "payment"
    REFUND = "refund"
    REVOCATION = "revocation"
    """A licence revoked without a refund."""
    DELIVERY = "delivery"
    DOWNLOAD = "download"
    WITHDRAWAL = "withdrawal"
    KEY = "key"
    """A signing key's first use or rotation: the export carries the keys it is checked with."""
    TRAINING = "training"
    """A lab's training run on licensed records, or one refused by a models cap."""


class LinkedKind(StrEnum):
    """The subjects whose entries name the previous entry of the same subject."""

    ACCOUNT = "account"
    KEY = "key"
    LICENCE = "licence"
    WORK = "work"


class PreviousEntry(Schema):
    """An earlier entry of the log, by its place and its leaf hash."""

    index: int = Field(ge=0)
    leaf_hash: Hash = Field(pattern=HASH_PATTERN)


class SubjectLink(Schema):
    """One subject of a linked entry, and that subject's entry before it (None: its first)."""

    kind: LinkedKind
    id: UUID
    previous: PreviousEntry | None


class BucketHead(Schema):
    """A subject's latest entry, as the head map's bucket holds it."""

    kind: LinkedKind
    id: UUID
    index: int = Field(ge=0)
    leaf_hash: Hash = Field(pattern=HASH_PATTERN)


class HeadProof(Schema):
    """The whole bucket of the head map a subject falls in, and the bucket's path to the
    map root (`assent.protocol.heads_root` binds it to the checkpoint)."""

    bucket: int = Field(ge=0)
    heads: list[BucketHead]
    path: list[Hash] = Field(description="sibling hashes, bottom-up")


class SubjectHead(Schema):
    """A subject's latest entry as of the checkpoint, proven by the head map."""

    kind: LinkedKind
    id: UUID
    head: PreviousEntry
    proof: HeadProof


class HeadsLeaf(Schema):
    """The checkpoint's last leaf, which commits the head map inside the witnessed tree
    (`assent.protocol.heads_leaf_bytes`), with its inclusion proof."""

    index: int = Field(ge=0, description="the checkpoint's tree size minus one")
    entry: str = Field(description="the leaf's bytes: canonical JSON naming the map root")
    inclusion_proof: list[Hash] = Field(description="against the chain's checkpoint")


class ChainEntry(Schema):
    index: int = Field(ge=0, description="the entry's position in the log")
    event_id: UUID
    topic: str
    step: ChainStep
    occurred_at: datetime
    entry: str | None = Field(
        description="the logged bytes (canonical JSON) the leaf hash is over; null where "
        "the entry is another party's (another buyer's sale, say), withheld from this reader"
    )
    leaf_hash: Hash | None = Field(
        default=None,
        pattern=HASH_PATTERN,
        description="a withheld entry's leaf hash, which its inclusion proof proves in the log",
    )
    inclusion_proof: list[Hash] = Field(description="against the chain's checkpoint")
    links: list[SubjectLink] | None = Field(
        default=None,
        description="the entry's subjects and each one's previous entry; the leaf is over "
        "canonical JSON {event_sha256, links}; None on an entry logged before links began",
    )
    event_sha256: Hash | None = Field(
        default=None,
        pattern=HASH_PATTERN,
        description="a withheld linked entry's sha256 of its event bytes, so its leaf "
        "(and its links) can be checked without the event",
    )

    @model_validator(mode="after")
    def _proven_somehow(self) -> "ChainEntry":
        if self.entry is None and self.leaf_hash is None and self.event_sha256 is None:
            raise ValueError("an entry shows its bytes or, withheld, its leaf hash")
        return self


class ChainRead(Schema):
    """A licence chain, every entry proven against one signed checkpoint.

    Written as is to a file by `assent audit export`; `assent verify` checks it offline.
    """

    type: Literal["application/vnd.assent.licence-chain+json"] = CHAIN_EXPORT_TYPE
    subject_kind: ChainSubjectKind
    subject_id: UUID
    checkpoint: CheckpointRead
    entries: list[ChainEntry]
    consistency: ConsistencyProof | None = Field(
        default=None,
        description="from a checkpoint the reader kept earlier to this chain's checkpoint",
    )
    pending_entries: int = Field(
        default=0, description="entries about the subject logged after the checkpoint"
    )
    heads: list[SubjectHead] = Field(
        default_factory=list,
        description="every subject whose entries the export claims complete, with its "
        "latest entry as of the checkpoint, proven against the map root of `heads_leaf`",
    )
    links_begin_at: int | None = Field(
        default=None,
        description="the log index of the marker entry: entries after it name their "
        "subjects' previous entries; before it the log kept no links",
    )
    heads_leaf: HeadsLeaf | None = Field(
        default=None,
        description="the checkpoint's heads leaf, proven: `heads` are proven against the "
        "map root it names; null against a checkpoint signed before links began",
    )
    keys: list[PublicKeyRead] = Field(
        default_factory=list,
        description="every signing key the log's key.rotated entries name up to the "
        "checkpoint, with its interval; those entries are in `entries`, proven",
    )
