"""What a build reads: a licence's lines in manifest (keyed) order, as plain rows, since
a build reads every line once and ORM objects would pile up in the session."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select

from services.delivery.models import LicenceLine
from services.kit.repository import Repository


class LineRepository(Repository[LicenceLine]):
    model = LicenceLine

    async def lines_in_order(
        self, licence_id: uuid.UUID, *, after: str, limit: int
    ) -> Sequence[Row[Any]]:
        """The next `limit` lines after the order key `after`."""
        statement = (
            select(*LicenceLine.__table__.columns)
            .where(LicenceLine.licence_id == licence_id)
            .where(LicenceLine.order_key > after)
            .order_by(LicenceLine.order_key)
            .limit(limit)
        )
        return (await self.session.execute(statement)).all()

    async def first_lines(
        self, licence_ids: Sequence[uuid.UUID], *, limit: int
    ) -> dict[uuid.UUID, list[Row[Any]]]:
        """The first `limit` lines of each licence, in one statement: the whole of a
        small bundle, the first chunk of a large one."""
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

    async def latest_end(self, licence_id: uuid.UUID) -> datetime | None:
        """When the last line of a licence ends (a shard serves its lines until then)."""
        statement = select(func.max(LicenceLine.ends_at)).where(
            LicenceLine.licence_id == licence_id
        )
        ended: datetime | None = await self.session.scalar(statement)
        return ended
