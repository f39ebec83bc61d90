"""The audit log's GraphQL types: signed checkpoints and licence chains with their proofs."""

from datetime import datetime
from typing import Annotated

import strawberry

from gateway.types.errors import (
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
    ValidationFailed,
)
from services.contracts import audit as contract

ChainSubjectKind = contract.ChainSubjectKind
strawberry.enum(ChainSubjectKind)
ChainStep = contract.ChainStep
strawberry.enum(ChainStep)


@strawberry.type
class ConsistencyProof:
    from_size: int
    to_size: int
    hashes: list[str] = strawberry.field(description="Hex, bottom-up (RFC 9162).")

    @classmethod
    def of(cls, proof: contract.ConsistencyProof) -> "ConsistencyProof":
        return cls(from_size=proof.from_size, to_size=proof.to_size, hashes=list(proof.hashes))


@strawberry.type
class AuditCheckpoint:
    tree_size: int
    root_hash: str
    issued_at: datetime
    key_id: str
    object_key: str = strawberry.field(description="Where it is published in the object store.")
    document: str = strawberry.field(
        description="The signed checkpoint as JSON: keep it, and check later chains against it "
        "(assent audit checkpoint; assent verify --checkpoint)."
    )
    consistency_proof: ConsistencyProof | None = strawberry.field(
        description="From the size asked for in consistentWith to this checkpoint."
    )
    note: str | None = strawberry.field(
        description="The checkpoint as a C2SP signed note (c2sp.org/tlog-checkpoint) with the "
        "log's signature line (its key: the published audit-checkpoint key keyId, named "
        "after the origin) and each witness's cosignature (c2sp.org/tlog-cosignature); null "
        "for a checkpoint signed before notes were."
    )
    witnesses: list[str] = strawberry.field(
        description="The vkeys of the witnesses whose cosignatures the note carries, as the "
        "log names them; pin those you trust (assent verify --witness)."
    )

    @classmethod
    def of(
        cls, read: contract.CheckpointRead, consistency: contract.ConsistencyProof | None = None
    ) -> "AuditCheckpoint":
        return cls(
            tree_size=read.checkpoint.tree_size,
            root_hash=read.checkpoint.root_hash,
            issued_at=read.checkpoint.issued_at,
            key_id=read.envelope.signatures[0].keyid,
            object_key=read.object_key,
            document=read.model_dump_json(indent=2),
            consistency_proof=ConsistencyProof.of(consistency) if consistency else None,
            note=read.note,
            witnesses=list(read.witnesses),
        )


@strawberry.type
class PreviousEntry:
    index: int
    leaf_hash: str = strawberry.field(description="Hex.")


@strawberry.type
class SubjectLink:
    kind: str = strawberry.field(description="work, licence, account or key.")
    id: strawberry.ID
    previous: PreviousEntry | None = strawberry.field(
        description="The subject's entry before this one; null for its first."
    )


@strawberry.type
class ChainEntry:
    index: int = strawberry.field(description="The entry's position in the log.")
    event_id: strawberry.ID
    topic: str
    step: ChainStep
    occurred_at: datetime
    entry: str | None = strawberry.field(
        description="The logged bytes (canonical JSON); null where the entry is another "
        "party's (another creator's sale, say), withheld from you."
    )
    leaf_hash: str | None = strawberry.field(
        description="A withheld entry's leaf hash (hex), which its inclusion proof proves."
    )
    inclusion_proof: list[str] = strawberry.field(
        description="Hex, bottom-up, against the chain's checkpoint."
    )
    links: list[SubjectLink] | None = strawberry.field(
        description="A linked entry's subjects, each with its previous entry: the leaf is over "
        'the canonical JSON {"event_sha256": sha256 of the entry, "links": [...]}; null on an '
        "entry logged before links began, whose leaf is over the entry itself."
    )
    event_sha256: str | None = strawberry.field(
        description="A withheld linked entry's sha256 of its event (hex), so its links can be "
        "checked without the event."
    )


@strawberry.type
class LicenceChain:
    subject_kind: ChainSubjectKind
    subject_id: strawberry.ID
    checkpoint: AuditCheckpoint
    entries: list[ChainEntry]
    pending_entries: int = strawberry.field(
        description="Entries about the subject logged after the checkpoint (proven in the next)."
    )
    document: str = strawberry.field(
        description="The whole chain as one JSON document, for assent verify."
    )

    @classmethod
    def of(cls, chain: contract.ChainRead) -> "LicenceChain":
        return cls(
            subject_kind=chain.subject_kind,
            subject_id=strawberry.ID(str(chain.subject_id)),
            checkpoint=AuditCheckpoint.of(chain.checkpoint, chain.consistency),
            entries=[
                ChainEntry(
                    index=entry.index,
                    event_id=strawberry.ID(str(entry.event_id)),
                    topic=entry.topic,
                    step=entry.step,
                    occurred_at=entry.occurred_at,
                    entry=entry.entry,
                    leaf_hash=entry.leaf_hash,
                    inclusion_proof=list(entry.inclusion_proof),
                    links=None if entry.links is None else [_link(link) for link in entry.links],
                    event_sha256=entry.event_sha256,
                )
                for entry in chain.entries
            ],
            pending_entries=chain.pending_entries,
            document=chain.model_dump_json(indent=2),
        )


def _link(link: contract.SubjectLink) -> SubjectLink:
    previous = link.previous
    return SubjectLink(
        kind=link.kind.value,
        id=strawberry.ID(str(link.id)),
        previous=None
        if previous is None
        else PreviousEntry(index=previous.index, leaf_hash=previous.leaf_hash),
    )


AuditCheckpointResult = Annotated[
    AuditCheckpoint | NotFound | ValidationFailed | Unauthenticated | ServiceUnavailable,
    strawberry.union("AuditCheckpointResult"),
]
LicenceChainResult = Annotated[
    LicenceChain | NotFound | Forbidden | ValidationFailed | Unauthenticated | ServiceUnavailable,
    strawberry.union("LicenceChainResult"),
]
