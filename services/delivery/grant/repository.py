"""Licences as delivery holds them (the entitlement): written whole from a grant, then
changed only by a refund."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from services.contracts.licensing import LicenceGranted, LicenceLineRead, LicenceStatus
from services.delivery.models import Licence, LicenceLine, table_of
from services.kit.repository import Repository


@dataclass(frozen=True)
class KeyedLine:
    """A line to deliver, with its keyed position in the licence's manifest."""

    line: LicenceLineRead
    order_key: str


@dataclass(frozen=True)
class Entitlement:
    """A licence as granted, with the lines its delivery holds."""

    granted: LicenceGranted
    lines: Sequence[KeyedLine]


class LicenceRepository(Repository[Licence]):
    model = Licence

    async def get(
        self, id_: uuid.UUID, *, for_update: bool = False, shared: bool = False
    ) -> Licence | None:
        """The licence; with `for_update`, locked until the transaction ends (`shared`
        for a read lock).

        A download takes it shared, a refund exclusively: a link is then either handed
        out before the refund commits, or refused once it has.
        """
        if not for_update:
            return await super().get(id_)
        statement = (
            select(Licence)
            .where(Licence.id == id_)
            .with_for_update(read=shared)
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def get_many(self, licence_ids: Sequence[uuid.UUID]) -> list[Licence]:
        return await self.list(select(Licence).where(Licence.id.in_(licence_ids)))

    async def existing_ids(self, licence_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        found = await self.session.scalars(select(Licence.id).where(Licence.id.in_(licence_ids)))
        return set(found)

    async def add(self, entitlements: Sequence[Entitlement], *, received_at: datetime) -> None:
        """Every licence and its lines in a statement per table, not per grant: a relay's
        batch carries the grants of many sales."""
        await self.session.execute(
            insert(table_of(Licence)),
            [
                {
                    "id": granted.licence_id,
                    "buyer_id": granted.buyer_id,
                    "buyer_name": granted.buyer_name,
                    "bundle_id": granted.bundle_id,
                    "uses": sorted(set(granted.uses)),
                    "status": LicenceStatus.ACTIVE,
                    "granted_at": granted.granted_at,
                    "received_at": received_at,
                }
                for granted in (entitlement.granted for entitlement in entitlements)
            ],
        )
        lines = [
            {
                "licence_id": entitlement.granted.licence_id,
                "work_id": keyed.line.work_id,
                "version_id": keyed.line.version_id,
                "file_name": keyed.line.file_name,
                "size": keyed.line.size,
                "sha256": keyed.line.sha256,
                "media_type": keyed.line.media_type,
                "attribution": keyed.line.attribution,
                "terms_id": keyed.line.terms_id,
                "ends_at": keyed.line.ends_at,
                "order_key": keyed.order_key,
            }
            for entitlement in entitlements
            for keyed in entitlement.lines
        ]
        if lines:
            await self.session.execute(insert(table_of(LicenceLine)), lines)
