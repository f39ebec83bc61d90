"""Each work's sale scope: which uses licensing, the seller, may sell from now on.

The catalogue's consent and withdrawal events reach licensing through the outbox; each
is recorded here with `sale_scope.recorded` in the same transaction. A purchase and a
scope record of the same work are serialised, so every sale commits either before the
record (and stands, delivered on its terms) or after it (and leaves out what the record
closed). On PostgreSQL a purchase holds a shared advisory lock per work of its quote and
a record an exclusive one, each set taken in key order; on SQLite every writer already
waits for the one before. The outbox rows of both are written under the lock, so their
order is the commit order the audit log shows. A purchase of a work it sells exclusively
takes that work's lock exclusively, which serialises it with every other purchase of it.
"""

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import groupby
from operator import itemgetter

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import ConsentRecorded, Use, WorkWithdrawn
from services.contracts.events import EventEnvelope, Topic
from services.contracts.licensing import ExclusionReason, SaleScopeRecorded
from services.kit.db import utcnow
from services.kit.outbox import emit_all
from services.kit.repository import Repository
from services.licensing.models import SaleScope

SCOPE_TOPICS = frozenset(
    {Topic.CONSENT_GIVEN, Topic.CONSENT_REVISED, Topic.CONSENT_WITHDRAWN, Topic.WORK_WITHDRAWN}
)
_SHARED = text("SELECT pg_advisory_xact_lock_shared(:key)")
_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(:key)")


def _lock_key(work_id: uuid.UUID) -> int:
    # Advisory locks are per database: a work id's first 64 bits make collisions (which
    # would only serialise two unrelated works) vanishingly rare.
    return int.from_bytes(work_id.bytes[:8], "big", signed=True)


def _cause(envelope: EventEnvelope) -> WorkWithdrawn | ConsentRecorded:
    if envelope.topic == Topic.WORK_WITHDRAWN:
        return WorkWithdrawn.model_validate(envelope.payload)
    return ConsentRecorded.model_validate(envelope.payload)


def _opened(cause: WorkWithdrawn | ConsentRecorded) -> list[str]:
    """The uses a consent record leaves for sale: those every member's consents allow
    together, so that one member's consent never reopens what another's withdrawal
    closed. Entries from before co-creators consented carry the owner's uses alone,
    which were then the work's."""
    if isinstance(cause, WorkWithdrawn):
        return []
    together = cause.uses if cause.sale_uses is None else cause.sale_uses
    return sorted({Use(use) for use in together})


class SaleScopeRepository(Repository[SaleScope]):
    model = SaleScope

    async def lock(self, work_ids: Iterable[uuid.UUID], *, exclusive: bool) -> None:
        await self.lock_each(dict.fromkeys(work_ids, exclusive))

    async def lock_each(self, exclusive_by_work: Mapping[uuid.UUID, bool]) -> None:
        """Take each work's lock, exclusive or shared as asked, until the transaction ends,
        in key order (so no two takers deadlock); nothing to take on SQLite, whose writers
        run one at a time."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        exclusive_by_key: dict[int, bool] = {}
        for work_id, exclusive in exclusive_by_work.items():
            key = _lock_key(work_id)
            exclusive_by_key[key] = exclusive_by_key.get(key, False) or exclusive
        # One pipelined statement per run of keys taken alike, the runs in key order.
        for exclusive, run in groupby(sorted(exclusive_by_key.items()), key=itemgetter(1)):
            await self.session.execute(
                _EXCLUSIVE if exclusive else _SHARED, [{"key": key} for key, _ in run]
            )

    async def get_many(self, work_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, SaleScope]:
        statement = (
            select(SaleScope)
            .where(SaleScope.work_id.in_(sorted(work_ids)))
            .execution_options(populate_existing=True)
        )
        return {scope.work_id: scope for scope in await self.session.scalars(statement)}


class SaleScopeService:
    async def record(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        """What the catalogue's event leaves for sale, recorded and announced."""
        cause = _cause(envelope)
        scopes = SaleScopeRepository(session)
        await scopes.lock([cause.work_id], exclusive=True)
        scope = (await scopes.get_many([cause.work_id])).get(cause.work_id)
        if scope is None:
            scope = SaleScope(work_id=cause.work_id, open_uses=[], withdrawn=False)
            session.add(scope)
        scope.withdrawn = scope.withdrawn or isinstance(cause, WorkWithdrawn)
        scope.open_uses = [] if scope.withdrawn else _opened(cause)
        scope.cause_event_id = envelope.id
        scope.recorded_at = utcnow()
        await session.flush()
        recorded = SaleScopeRecorded(
            work_id=scope.work_id,
            open_uses=[Use(use) for use in scope.open_uses],
            cause_event_id=envelope.id,
            cause_topic=envelope.topic,
            recorded_at=scope.recorded_at,
        )
        await emit_all(session, [(Topic.SALE_SCOPE_RECORDED, recorded)])

    async def unsellable(
        self,
        session: AsyncSession,
        work_ids: Sequence[uuid.UUID],
        uses: Collection[str],
        *,
        sold_exclusively: Collection[uuid.UUID] = (),
    ) -> dict[uuid.UUID, ExclusionReason]:
        """The works not for sale for these uses as of this transaction's commit, with why.

        Holds the works' shared locks until the purchase commits: a scope record of any
        of them waits for it, and it waited for any record already under way. The works
        it would sell exclusively are locked exclusively, so every other purchase of them
        waits too, and sees the exclusive licence (see `exclusivity`) once it commits."""
        scopes = SaleScopeRepository(session)
        await scopes.lock_each({work_id: work_id in sold_exclusively for work_id in work_ids})
        closed: dict[uuid.UUID, ExclusionReason] = {}
        for work_id, scope in (await scopes.get_many(work_ids)).items():
            if scope.withdrawn:
                closed[work_id] = ExclusionReason.WITHDRAWN
            elif not set(uses) <= set(scope.open_uses):
                closed[work_id] = ExclusionReason.NO_CONSENT
        return closed

    async def lock_works_of(
        self, session: AsyncSession, envelopes: Sequence[EventEnvelope]
    ) -> None:
        """Take the locks of every work a batch of events records, at once and in key
        order: taken event by event, a batch would take them out of order and could
        deadlock with a purchase of two of its works."""
        causes = [_cause(envelope) for envelope in envelopes if envelope.topic in SCOPE_TOPICS]
        await SaleScopeRepository(session).lock([cause.work_id for cause in causes], exclusive=True)


sale_scope_service = SaleScopeService()
