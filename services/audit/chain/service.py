"""Licence chains: the entries about a work or a licence, shown to those the log's own
evidence lets read them, each proven against one checkpoint."""

import uuid
from collections.abc import Collection
from typing import NoReturn

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.chain.completeness import (
    Claim,
    chain_entry,
    entries_of,
    head_proofs,
    heads_leaf,
    linked_subjects_on,
)
from services.audit.chain.keys import carried_keys, with_key_entries
from services.audit.chain.parties import with_parties
from services.audit.chain.repository import ChainRepository
from services.audit.chain.subjects import WORK_STEPS, WORK_TOPICS, SubjectKind, step_of
from services.audit.checkpoint.repository import CheckpointRepository
from services.audit.checkpoint.service import checkpoint_read, proof_service
from services.audit.log.repository import LogRepository
from services.audit.witnessing.service import witnessing_service
from services.contracts.audit import ChainRead, ChainSubjectKind, LinkedKind
from services.contracts.events import Topic
from services.kit.errors import NotFound
from services.kit.internal_token import Caller

log = structlog.get_logger()


def _refuse(caller: Caller, kind: ChainSubjectKind, subject_id: uuid.UUID) -> NoReturn:
    log.warning(
        "audit.chain.refused", caller=caller.subject, subject_kind=kind, subject_id=str(subject_id)
    )
    raise NotFound(f"no such {kind} in the log")


class ChainService:
    """Licence chains, each proven against one checkpoint.

    Who may read a chain is decided from the log's own evidence: the consent entries
    name a work's creator, a licence's grant names its buyer. A chain the caller may
    not read is not found, never forbidden, as for another buyer's licence elsewhere.
    """

    async def work_chain(
        self,
        session: AsyncSession,
        caller: Caller,
        work_id: uuid.UUID,
        *,
        tree_size: int | None = None,
        consistent_with: int | None = None,
    ) -> ChainRead:
        """The work's consent, offers and withdrawal, and every licence of it with its
        payment, deliveries, downloads and refund."""
        repository = ChainRepository(session)
        about_work = await repository.leaves_of(SubjectKind.WORK, [work_id])
        if not about_work:
            raise NotFound("no such work in the log")
        grants = [leaf for leaf, topic in about_work.items() if topic == Topic.LICENCE_GRANTED]
        named = await repository.subjects_on(grants, (SubjectKind.LICENCE, SubjectKind.BUYER))
        licence_of = {leaf: who for leaf, kind, who in named if kind == SubjectKind.LICENCE}
        buyers: dict[uuid.UUID, set[uuid.UUID]] = {
            licence: set() for licence in licence_of.values()
        }
        for leaf, kind, who in named:
            if kind == SubjectKind.BUYER and leaf in licence_of:
                buyers[licence_of[leaf]].add(who)

        me = caller.account_id
        every = caller.oversees
        creator = (
            not every
            and me is not None
            and await repository.about_both((SubjectKind.WORK, work_id), (SubjectKind.CREATOR, me))
        )
        bought = {licence for licence, named in buyers.items() if me in named}
        if not (every or creator or bought):
            _refuse(caller, ChainSubjectKind.WORK, work_id)
        # The work's own steps, which every reader of its chain sees.
        leaves = {leaf for leaf, topic in about_work.items() if step_of(topic) in WORK_STEPS}
        shown = set(leaves)
        licences = set(buyers) if every or creator else bought
        for licence, about_licence in (
            await repository.leaves_by_subject(SubjectKind.LICENCE, licences)
        ).items():
            # A licence of several works: its downloads of the others are here too, or
            # the licence's chain would have gaps its verifier must fail.
            leaves.update(about_licence)
            if every or licence in bought:
                shown.update(about_licence)
        return await self._proven(
            session,
            ChainSubjectKind.WORK,
            work_id,
            leaves,
            withheld=leaves - shown,
            claims={(LinkedKind.LICENCE, licence) for licence in licences},
            tree_size=tree_size,
            consistent_with=consistent_with,
        )

    async def licence_chain(
        self,
        session: AsyncSession,
        caller: Caller,
        licence_id: uuid.UUID,
        *,
        tree_size: int | None = None,
        consistent_with: int | None = None,
    ) -> ChainRead:
        """The licence's grant, payment, deliveries, downloads and refund, and the
        consent, offers and withdrawal of each of its works."""
        repository = ChainRepository(session)
        about_licence = await repository.leaves_of(SubjectKind.LICENCE, [licence_id])
        if not about_licence:
            raise NotFound("no such licence in the log")
        grants = [leaf for leaf, topic in about_licence.items() if topic == Topic.LICENCE_GRANTED]
        named = await repository.subjects_on(grants, (SubjectKind.WORK, SubjectKind.BUYER))
        if not caller.oversees:
            me = caller.account_id
            if not any(kind == SubjectKind.BUYER and who == me for _, kind, who in named):
                _refuse(caller, ChainSubjectKind.LICENCE, licence_id)
        works = {subject_id for _, kind, subject_id in named if kind == SubjectKind.WORK}
        leaves = set(about_licence)
        leaves.update(await repository.leaves_of(SubjectKind.WORK, works, topics=WORK_TOPICS))
        return await self._proven(
            session,
            ChainSubjectKind.LICENCE,
            licence_id,
            leaves,
            claims={(LinkedKind.WORK, work) for work in works},
            tree_size=tree_size,
            consistent_with=consistent_with,
        )

    async def _proven(
        self,
        session: AsyncSession,
        kind: ChainSubjectKind,
        subject_id: uuid.UUID,
        leaves: Collection[int],
        *,
        withheld: Collection[int] = (),
        claims: Collection[Claim] = (),
        tree_size: int | None,
        consistent_with: int | None,
    ) -> ChainRead:
        """The entries proven against one checkpoint; those in `withheld` are another
        party's, shown by their leaf hash only, which their proofs still prove.

        The chain's subject and `claims` (with the accounts and keys of the shown
        entries) are claimed complete: their other entries join the chain withheld, and
        each one's latest entry is proven against the checkpoint's head map."""
        # With the account entries of the parties they name: evidence names people.
        leaves = await with_parties(session, leaves, withheld=withheld)
        checkpoint = await proof_service.signed_checkpoint(session, tree_size)
        consistency = await proof_service.consistency_with(session, checkpoint, consistent_with)
        size = checkpoint.tree_size
        leaves = await with_key_entries(session, leaves, below=size)
        shown = [leaf for leaf in leaves if leaf < size and leaf not in withheld]
        claimed = {(LinkedKind(kind.value), subject_id), *claims}
        claimed |= await linked_subjects_on(session, shown, (LinkedKind.ACCOUNT, LinkedKind.KEY))
        found = await entries_of(session, claimed, below=size)
        complete = {leaf for leaves_of_one in found.values() for leaf in leaves_of_one}
        hidden = set(withheld) | (complete - set(leaves))
        proven = sorted({leaf for leaf in leaves if leaf < size} | complete)
        # The checkpoint's last leaf: its heads leaf, once links have begun.
        proofs = await proof_service.inclusion_proofs(session, {*proven, size - 1}, size)
        rows = await ChainRepository(session).entries(proven)
        read = await witnessing_service.with_note(session, checkpoint_read(checkpoint))
        committed = await heads_leaf(session, size - 1, proofs[size - 1])
        heads = []
        if committed is not None:
            latest = await CheckpointRepository(session).latest()
            heads = await head_proofs(
                session,
                [claim for claim, held in found.items() if held],
                size,
                latest=latest is not None and latest.tree_size == size,
            )
        return ChainRead(
            subject_kind=kind,
            subject_id=subject_id,
            checkpoint=read,
            entries=[
                chain_entry(row, proofs[row.leaf_index], withheld=row.leaf_index in hidden)
                for row in rows
            ],
            consistency=consistency,
            pending_entries=sum(leaf >= size for leaf in leaves),
            heads=heads,
            links_begin_at=await LogRepository(session).links_begin_at(),
            heads_leaf=committed,
            keys=carried_keys(rows),
        )


chain_service = ChainService()
