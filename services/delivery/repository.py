"""Every query of the delivery service."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, func, insert, literal_column, select
from sqlalchemy.orm import joinedload

from services.contracts.delivery import DeliveryStatus
from services.delivery.models import Base, Delivery, DeliveryEntry, Download, Licence, LicenceLine
from services.kit.repository import Page, Repository


def _table(model: type[Base]) -> Table:
    """A model's table, for bulk inserts that skip the ORM's per-row machinery."""
    return cast(Table, model.__table__)


# Fingerprints looked up per statement when tracing: well under every backend's limit
# on bound parameters.
LOOKUP_BATCH = 1_000


class LicenceRepository(Repository[Licence]):
    model = Licence

    async def lock(self, licence_id: uuid.UUID, *, shared: bool = False) -> Licence | None:
        """The licence, locked until the transaction ends.

        A download takes it shared, a refund exclusively: a link is then either handed
        out before the refund commits, or refused once it has.
        """
        statement = (
            select(Licence)
            .where(Licence.id == licence_id)
            .with_for_update(read=shared)
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def existing_ids(self, licence_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        found = await self.session.scalars(select(Licence.id).where(Licence.id.in_(licence_ids)))
        return set(found)

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        await self.session.execute(insert(_table(Licence)), list(rows))

    async def get_many(self, licence_ids: Sequence[uuid.UUID]) -> list[Licence]:
        return await self.list(select(Licence).where(Licence.id.in_(licence_ids)))

    async def add_lines(self, rows: Sequence[dict[str, Any]]) -> None:
        await self.session.execute(insert(_table(LicenceLine)), list(rows))

    async def lines_in_order(
        self, licence_id: uuid.UUID, *, after: str | None, limit: int
    ) -> Sequence[Row[Any]]:
        """The next `limit` lines in manifest (keyed) order, as plain rows: a build reads
        every line once, and ORM objects would pile up in the session."""
        statement = (
            select(*LicenceLine.__table__.columns)
            .where(LicenceLine.licence_id == licence_id)
            .order_by(LicenceLine.order_key)
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(LicenceLine.order_key > after)
        return (await self.session.execute(statement)).all()

    async def first_lines(
        self, licence_ids: Sequence[uuid.UUID], *, limit: int
    ) -> dict[uuid.UUID, list[Row[Any]]]:
        """The first `limit` lines of each licence in manifest order, in one statement:
        the whole of a small bundle, the first chunk of a large one."""
        ranked = (
            select(
                *LicenceLine.__table__.columns,
                func.row_number()
                .over(partition_by=LicenceLine.licence_id, order_by=LicenceLine.order_key)
                .label("rank"),
            )
            .where(LicenceLine.licence_id.in_(licence_ids))
            .subquery()
        )
        statement = (
            select(*(ranked.c[column.name] for column in LicenceLine.__table__.columns))
            .where(ranked.c.rank <= limit)
            .order_by(ranked.c.licence_id, ranked.c.rank)
        )
        found: dict[uuid.UUID, list[Row[Any]]] = {licence_id: [] for licence_id in licence_ids}
        for row in await self.session.execute(statement):
            found[row.licence_id].append(row)
        return found


class DeliveryRepository(Repository[Delivery]):
    model = Delivery

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        await self.session.execute(insert(_table(Delivery)), list(rows))

    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[Delivery]:
        return await self.list(select(Delivery).where(Delivery.id.in_(ids)))

    async def by_licence_ids(self, licence_ids: Sequence[uuid.UUID]) -> list[Delivery]:
        return await self.list(select(Delivery).where(Delivery.licence_id.in_(licence_ids)))

    async def get_many_with_licence(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Delivery]:
        statement = (
            select(Delivery).where(Delivery.id.in_(ids)).options(joinedload(Delivery.licence))
        )
        return {delivery.id: delivery for delivery in await self.list(statement)}

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

    async def lock(self, delivery_id: uuid.UUID) -> Delivery | None:
        statement = (
            select(Delivery)
            .where(Delivery.id == delivery_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(statement)).one_or_none()


class EntryRepository(Repository[DeliveryEntry]):
    model = DeliveryEntry

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        # A bulk insert: the entries never enter the session, however many there are.
        await self.session.execute(insert(_table(DeliveryEntry)), list(rows))

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

    async def locate(self, fingerprints: Sequence[str]) -> dict[str, tuple[uuid.UUID, int]]:
        """The delivery and position of each fingerprint Assent issued; others left out."""
        found: dict[str, tuple[uuid.UUID, int]] = {}
        for start in range(0, len(fingerprints), LOOKUP_BATCH):
            batch = fingerprints[start : start + LOOKUP_BATCH]
            rows = await self.session.execute(
                select(
                    DeliveryEntry.fingerprint, DeliveryEntry.delivery_id, DeliveryEntry.position
                ).where(DeliveryEntry.fingerprint.in_(batch))
            )
            found.update((row[0], (row[1], row[2])) for row in rows)
        return found


class DownloadRepository(Repository[Download]):
    model = Download
