"""What makes a chain export provably complete: every entry of each subject it claims,
each entry's links, and each claimed subject's head proven against the head map that
the checkpoint's last leaf (its heads leaf) commits inside the witnessed tree.

A chain claims its own subject, the licences of a work's chain (the works of a
licence's), and the accounts and keys of the entries it shows, as `assent.protocol`'s
`completeness` expects. Their entries the reader may not see are carried withheld (links
and event hash, no event), so the walk from each head back to the subject's first entry
meets every entry.
"""

import hashlib
import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import (
    BUCKETS,
    HEADS_TOPIC,
    bucket_of,
    leaf_hash,
    link_tuples,
    linked_leaf_bytes,
    map_levels,
    map_path,
)
from services.audit.chain.repository import ChainRepository, LoggedRow
from services.audit.chain.subjects import step_of
from services.audit.log.heads import HeadRepository
from services.audit.log.repository import in_chunks
from services.audit.models import ChainSubject
from services.contracts.audit import (
    ChainEntry,
    HeadProof,
    HeadsLeaf,
    LinkedKind,
    PreviousEntry,
    SubjectHead,
    SubjectLink,
)

Claim = tuple[LinkedKind, uuid.UUID]


async def linked_subjects_on(
    session: AsyncSession, leaves: Collection[int], kinds: Collection[LinkedKind]
) -> set[Claim]:
    """The subjects of the given linked kinds that the entries are about."""
    found: set[Claim] = set()
    for chunk in in_chunks(leaves):
        rows = await session.execute(
            select(ChainSubject.kind, ChainSubject.subject_id)
            .where(ChainSubject.leaf_index.in_(chunk))
            .where(ChainSubject.kind.in_([kind.value for kind in kinds]))
        )
        found.update((LinkedKind(kind), subject) for kind, subject in rows)
    return found


async def entries_of(
    session: AsyncSession, claims: Collection[Claim], *, below: int
) -> dict[Claim, set[int]]:
    """Every entry of each claimed subject before `below`."""
    found: dict[Claim, set[int]] = {claim: set() for claim in claims}
    by_kind: dict[LinkedKind, list[uuid.UUID]] = {}
    for kind, subject in claims:
        by_kind.setdefault(kind, []).append(subject)
    for kind, subjects in by_kind.items():
        for chunk in in_chunks(subjects):
            rows = await session.execute(
                select(ChainSubject.subject_id, ChainSubject.leaf_index)
                .where(ChainSubject.kind == kind.value)
                .where(ChainSubject.subject_id.in_(chunk))
                .where(ChainSubject.leaf_index < below)
            )
            for subject, leaf in rows:
                found[(kind, subject)].add(int(leaf))
    return found


async def head_proofs(
    session: AsyncSession, claims: Collection[Claim], size: int, *, latest: bool
) -> list[SubjectHead]:
    """Each claimed subject's latest entry as of the checkpoint of `size` (`latest`: the
    latest checkpoint), with its bucket and the bucket's path to the map root."""
    if not claims:
        return []
    heads = HeadRepository(session)
    wanted = {claim: bucket_of(claim[0], claim[1]) for claim in claims}
    buckets = await heads.bucket_heads_as_of(set(wanted.values()), size)
    levels = map_levels(await heads.bucket_leaves(None if latest else size))
    proofs: list[SubjectHead] = []
    for (kind, subject), bucket in sorted(
        wanted.items(), key=lambda item: (item[0][0], str(item[0][1]))
    ):
        held = sorted(buckets[bucket], key=lambda head: (head.kind.value, str(head.id)))
        mine = [head for head in held if (head.kind, head.id) == (kind, subject)]
        if not mine or not 0 <= bucket < BUCKETS:
            continue
        proofs.append(
            SubjectHead(
                kind=kind,
                id=subject,
                head=PreviousEntry(index=mine[0].index, leaf_hash=mine[0].leaf_hash),
                proof=HeadProof(
                    bucket=bucket,
                    heads=held,
                    path=[part.hex() for part in map_path(levels, bucket)],
                ),
            )
        )
    return proofs


async def heads_leaf(session: AsyncSession, index: int, proof: list[str]) -> HeadsLeaf | None:
    """The leaf at `index` (a checkpoint's last) with its proof, when it is a heads leaf:
    a checkpoint signed before heads leaves, or before links, ends with another."""
    rows = await ChainRepository(session).entries([index])
    if not rows or rows[0].topic != HEADS_TOPIC:
        return None
    return HeadsLeaf(index=index, entry=rows[0].entry.decode(), inclusion_proof=proof)


def chain_entry(row: LoggedRow, proof: list[str], *, withheld: bool) -> ChainEntry:
    """An entry as the export shows it: a linked entry with its links, and withheld
    with its event hash and leaf hash rather than its event."""
    index, event_id, topic, occurred_at, entry, stored_links = row
    links = (
        None
        if stored_links is None
        else [SubjectLink.model_validate(link) for link in stored_links]
    )
    event_sha256 = None if links is None else hashlib.sha256(entry).hexdigest()
    leaf = (
        leaf_hash(entry)
        if links is None or event_sha256 is None
        else leaf_hash(linked_leaf_bytes(event_sha256, link_tuples(links)))
    )
    return ChainEntry(
        index=index,
        event_id=event_id,
        topic=topic,
        step=step_of(topic),
        occurred_at=occurred_at,
        # A byte edited into invalid UTF-8 must still reach the verifier.
        entry=None if withheld else entry.decode(errors="replace"),
        leaf_hash=leaf.hex() if withheld else None,
        inclusion_proof=proof,
        links=links,
        event_sha256=event_sha256 if withheld else None,
    )
