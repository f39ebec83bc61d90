"""Whoever can write to the log's database still cannot change its history unseen: an
edited entry no longer matches its inclusion proof, and a checkpoint signed over a
rewritten history is not consistent with the checkpoints signed before it."""

import uuid

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import Frontier, VerificationError, frontier_nodes, root_of
from services.audit.errors import LogDamaged
from services.audit.models import LogEntry, TreeNode
from services.audit.sequencer import Sequencer
from services.contracts.audit import Checkpoint, CheckpointProof
from services.contracts.signing import PublicKeyRead
from tests.services.audit.helpers import (
    AuditApi,
    consent,
    logged_leaf,
    offer,
    verified_checkpoint,
    verify_chain,
    verify_extends,
)
from tests.services.catalogue.helpers import Actor


async def _checkpoint(
    audit: AuditApi, auditor: Actor, keys: list[PublicKeyRead], **params: int
) -> tuple[Checkpoint, CheckpointProof]:
    read = await audit.checkpoint(auditor, **params)
    return verified_checkpoint(read.checkpoint, keys), read


async def _signed_log(
    audit: AuditApi, sequencer: Sequencer, auditor: Actor, ines: Actor, work: uuid.UUID
) -> tuple[list[PublicKeyRead], Checkpoint]:
    keys = await audit.keys(auditor)
    await audit.post(consent(work, ines), offer(work), consent(uuid.uuid4(), ines))
    await sequencer.run_once()
    old, _read = await _checkpoint(audit, auditor, keys)
    return keys, old


async def _entries(session: AsyncSession) -> list[LogEntry]:
    rows = await session.scalars(select(LogEntry).order_by(LogEntry.leaf_index))
    return list(rows.all())


async def test_an_edited_entry_fails_its_inclusion_proof(
    audit: AuditApi, sequencer: Sequencer, session: AsyncSession, auditor: Actor, ines: Actor
) -> None:
    work = uuid.uuid4()
    keys, old = await _signed_log(audit, sequencer, auditor, ines, work)
    chain = await audit.work_chain(auditor, work)
    verify_chain(chain, keys)

    edited = chain.entries[0]
    assert edited.entry is not None
    forged = edited.entry.replace('"kind":"given"', '"kind":"withdrawn"').encode()
    await session.execute(
        update(LogEntry).where(LogEntry.leaf_index == edited.index).values(entry=forged)
    )

    with pytest.raises(VerificationError, match=f"leaf {edited.index} does not lead to the root"):
        verify_chain(await audit.work_chain(auditor, work), keys)
    rebuilt = root_of([logged_leaf(entry) for entry in (await _entries(session))[: old.tree_size]])
    assert rebuilt.hex() != old.root_hash


async def test_a_rewritten_history_is_not_consistent_with_an_earlier_checkpoint(
    audit: AuditApi, sequencer: Sequencer, session: AsyncSession, auditor: Actor, ines: Actor
) -> None:
    work = uuid.uuid4()
    keys, old = await _signed_log(audit, sequencer, auditor, ines, work)
    chain = await audit.work_chain(auditor, work)

    # The forger edits an entry and recomputes every tree node from the entries, so each
    # proof the log now serves is consistent with its own new checkpoints.
    edited = chain.entries[0]
    assert edited.entry is not None
    forged = edited.entry.replace('"kind":"given"', '"kind":"withdrawn"').encode()
    await session.execute(
        update(LogEntry).where(LogEntry.leaf_index == edited.index).values(entry=forged)
    )
    frontier = Frontier.empty()
    nodes = [
        node for entry in await _entries(session) for node in frontier.append(logged_leaf(entry))
    ]
    await session.execute(delete(TreeNode))
    await session.execute(
        insert(TreeNode),
        [{"level": level, "index": index, "hash": digest} for (level, index), digest in nodes],
    )
    await audit.post(consent(uuid.uuid4(), ines))
    await sequencer.run_once()

    new, read = await _checkpoint(audit, auditor, keys, consistent_with=old.tree_size)
    assert new.tree_size == old.tree_size + 2  # the entry, then its heads leaf
    verify_chain(await audit.work_chain(auditor, work), keys)
    assert read.consistency is not None
    # Which root the proof misses depends on the sizes (from a power of two, the new one).
    with pytest.raises(VerificationError, match="does not lead to the root of tree size"):
        verify_extends(old, new, read.consistency.hashes)
    # The chain proven against the old checkpoint gives the forgery away too.
    with pytest.raises(VerificationError):
        verify_chain(await audit.work_chain(auditor, work, tree_size=old.tree_size), keys)


async def test_an_edited_tree_node_breaks_consistency_with_the_next_checkpoint(
    audit: AuditApi, sequencer: Sequencer, session: AsyncSession, auditor: Actor, ines: Actor
) -> None:
    keys, old = await _signed_log(audit, sequencer, auditor, ines, uuid.uuid4())
    level, index = frontier_nodes(old.tree_size)[0]
    await session.execute(
        update(TreeNode)
        .where(TreeNode.level == level, TreeNode.index == index)
        .values(hash=bytes(32))
    )
    await audit.post(consent(uuid.uuid4(), ines))
    await sequencer.run_once()

    new, read = await _checkpoint(audit, auditor, keys, consistent_with=old.tree_size)

    assert read.consistency is not None
    with pytest.raises(VerificationError):
        verify_extends(old, new, read.consistency.hashes)


async def test_a_log_cut_short_behind_its_back_is_never_signed(
    audit: AuditApi, sequencer: Sequencer, session: AsyncSession, auditor: Actor, ines: Actor
) -> None:
    _keys, old = await _signed_log(audit, sequencer, auditor, ines, uuid.uuid4())
    await session.execute(delete(LogEntry).where(LogEntry.leaf_index == old.tree_size - 1))

    with pytest.raises(LogDamaged, match=f"its last checkpoint {old.tree_size}"):
        await sequencer.run_once()
