"""Deliveries and their entries: one per licence, built in the background, then read
a page at a time."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, literal_column, select
from sqlalchemy.orm import joinedload

from services.contracts.delivery import DeliveryStatus
from services.contracts.licensing import LicenceGranted
from services.delivery.models import Delivery, DeliveryEntry, table_of
from services.delivery.provenance.copies import DeliveredCopy
from services.kit.repository import Page, Repository

ENTRY_INSERT_ROWS = 1_000


@dataclass(frozen=True)
class IssuedEntry:
    """One file of a manifest, in manifest order."""

    fingerprint: str
    work_id: uuid.UUID
    copy: DeliveredCopy | None = None
    """The buyer's own copy, provenance embedded; None: delivered as uploaded."""


class DeliveryRepository(Repository[Delivery]):
    model = Delivery

    async def get(self, id_: uuid.UUID, *, for_update: bool = False) -> Delivery | None:
        if not for_update:
            return await super().get(id_)
        statement = (
            select(Delivery)
            .where(Delivery.id == id_)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[Delivery]:
        return await self.list(select(Delivery).where(Delivery.id.in_(ids)))

    async def by_licence_ids(self, licence_ids: Sequence[uuid.UUID]) -> list[Delivery]:
        return await self.list(select(Delivery).where(Delivery.licence_id.in_(licence_ids)))

    async def add_to_build(
        self,
        grants: Sequence[LicenceGranted],
        *,
        created_at: datetime,
        trace_parents: Sequence[str | None],
    ) -> None:
        """A delivery of each licence, due to be built at once, each in the trace named
        by its `trace_parents` entry (see `Delivery.trace_parent`)."""
        await self.session.execute(
            insert(table_of(Delivery)),
            [
                {
                    "id": uuid.uuid4(),
                    "licence_id": granted.licence_id,
                    "buyer_id": granted.buyer_id,
                    "status": DeliveryStatus.BUILDING,
                    "created_at": created_at,
                    "entry_count": 0,
                    "excluded": [],
                    "attempts": 0,
                    "next_attempt_at": created_at,
                    "trace_parent": trace_parent,
                }
                for granted, trace_parent in zip(grants, trace_parents, strict=True)
            ],
        )

    async def claim_due(self, now: datetime, *, limit: int) -> list[Delivery]:
        """Up to `limit` deliveries due to be built, oldest first, locked for this
        transaction, which leases them.

        SKIP LOCKED lets replicas lease different deliveries side by side. (SQLite has no
        row locks: its one writer at a time does the same.)
        """
        statement = (
            select(Delivery)
            # A literal, so the planner can match the partial index `ix_delivery_building`.
            .where(Delivery.status == literal_column(f"'{DeliveryStatus.BUILDING.value}'"))
            .where(Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return list((await self.session.scalars(statement)).all())


class EntryRepository(Repository[DeliveryEntry]):
    model = DeliveryEntry

    async def add(
        self, delivery: Delivery, entries: Sequence[IssuedEntry], *, licence_id: uuid.UUID
    ) -> None:
        """Bulk inserts: the entries never enter the session, however many there are."""
        for start in range(0, len(entries), ENTRY_INSERT_ROWS):
            await self.session.execute(
                insert(table_of(DeliveryEntry)),
                [
                    {
                        "fingerprint": entry.fingerprint,
                        "delivery_id": delivery.id,
                        "position": position,
                        "licence_id": licence_id,
                        "work_id": entry.work_id,
                        "delivered_key": entry.copy.key if entry.copy else None,
                        "delivered_size": entry.copy.size if entry.copy else None,
                        "delivered_sha256": entry.copy.sha256 if entry.copy else None,
                    }
                    for position, entry in enumerate(
                        entries[start : start + ENTRY_INSERT_ROWS], start=start
                    )
                ],
            )

    async def page(
        self, delivery_id: uuid.UUID, *, after: str | None, limit: int
    ) -> Page[DeliveryEntry]:
        statement = (
            select(DeliveryEntry)
            .where(DeliveryEntry.delivery_id == delivery_id)
            .options(joinedload(DeliveryEntry.line))
        )
        return await self.paginate(
            statement, order_by=[DeliveryEntry.position], after=after, limit=limit
        )

    async def in_delivery(self, delivery_id: uuid.UUID, fingerprint: str) -> DeliveryEntry | None:
        statement = (
            select(DeliveryEntry)
            .where(DeliveryEntry.fingerprint == fingerprint)
            .where(DeliveryEntry.delivery_id == delivery_id)
            .options(joinedload(DeliveryEntry.line))
        )
        return (await self.session.scalars(statement)).one_or_none()
