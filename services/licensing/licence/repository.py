"""Purchases' and licences' queries."""

import uuid
from collections.abc import Sequence
from typing import cast

from sqlalchemy import (
    Select,
    Table,
    insert,
    select,
)
from sqlalchemy.orm import selectinload

from services.kit.db import dialect_insert, utcnow
from services.kit.repository import Page, Repository
from services.licensing.licence.exclusivity import exclusive_until
from services.licensing.licence.grant import LicenceGrant
from services.licensing.models import (
    Licence,
    LicenceLine,
    Purchase,
)

_LICENCE = cast(Table, Licence.__table__)
_LINE = cast(Table, LicenceLine.__table__)


class PurchaseRepository(Repository[Purchase]):
    model = Purchase

    async def claim(self, buyer_id: uuid.UUID, key: str, quote_id: uuid.UUID) -> bool:
        """Insert the key; False when it exists. A racing request with the same key waits
        here (on the unique index) until the first commits or rolls back."""
        # On the table rather than the mapped class: the same SQL without the ORM's bulk
        # insert machinery, which costs more than the statement on this hot path.
        table = cast(Table, Purchase.__table__)
        statement = (
            dialect_insert(self.session)(table).on_conflict_do_nothing().returning(table.c.buyer_id)
        )
        claimed = await self.session.execute(
            statement,
            {
                "buyer_id": buyer_id,
                "idempotency_key": key,
                "quote_id": quote_id,
                "created_at": utcnow(),
            },
        )
        return claimed.scalar_one_or_none() is not None

    async def find(self, buyer_id: uuid.UUID, key: str) -> Purchase | None:
        statement = select(Purchase).where(
            Purchase.buyer_id == buyer_id, Purchase.idempotency_key == key
        )
        return (await self.session.scalars(statement)).one_or_none()


class LicenceRepository(Repository[Licence]):
    model = Licence

    def _read(self) -> Select[Licence]:
        return (
            select(Licence)
            .options(selectinload(Licence.lines))
            .execution_options(populate_existing=True)
        )

    async def get_for_read(self, licence_id: uuid.UUID) -> Licence | None:
        return (await self.session.scalars(self._read().where(Licence.id == licence_id))).first()

    async def get_many_for_read(self, ids: Sequence[uuid.UUID]) -> list[Licence]:
        """The licences found, in the order of `ids`."""
        found = {
            licence.id: licence
            for licence in (await self.session.scalars(self._read().where(Licence.id.in_(ids))))
        }
        return [found[licence_id] for licence_id in ids if licence_id in found]

    async def by_quote(self, quote_id: uuid.UUID) -> Licence | None:
        return (
            await self.session.scalars(self._read().where(Licence.quote_id == quote_id))
        ).first()

    async def grant(self, grant: LicenceGrant) -> None:
        """Insert a licence and its lines: a statement per table, without the ORM's flush."""
        licence = grant.licence
        await self.session.execute(
            insert(_LICENCE),
            {
                "id": licence.id,
                "buyer_id": licence.buyer_id,
                "buyer_name": licence.buyer_name,
                "bundle_id": licence.bundle_id,
                "quote_id": licence.quote_id,
                "uses": licence.uses,
                "currency": licence.currency,
                "total_minor": licence.total_minor,
                "platform_fee_minor": licence.platform_fee_minor,
                "refunded_minor": licence.refunded_minor,
                "status": licence.status,
                "granted_at": licence.granted_at,
                "starts_at": licence.starts_at,
                "ends_at": licence.ends_at,
            },
        )
        await self.session.execute(
            insert(_LINE),
            [
                {
                    "licence_id": licence.id,
                    "work_id": line.work_id,
                    "position": position,
                    "version_id": line.version_id,
                    "title": line.title,
                    "media_type": line.media_type,
                    "file_name": line.file_name,
                    "size": line.size,
                    "sha256": line.sha256,
                    "attribution": line.attribution,
                    "terms_id": line.terms_id,
                    "terms": line.terms.model_dump(mode="json"),
                    "price_minor": line.price_minor,
                    "platform_fee_minor": sold.platform_fee_minor,
                    "shares": [share.model_dump(mode="json") for share in sold.shares],
                    "starts_at": line.starts_at,
                    "ends_at": line.ends_at,
                    "exclusive_until": exclusive_until(line.terms, line.starts_at, line.ends_at),
                    "status": line.status,
                    "excluded_reason": line.excluded_reason,
                }
                for position, (line, sold) in enumerate(
                    zip(licence.lines, grant.quote_lines, strict=True)
                )
            ],
        )

    async def lock(self, licence_id: uuid.UUID) -> Licence | None:
        """The licence, locked, with its lines loaded afterwards (so they are current)."""
        locked = await self.session.scalar(
            select(Licence.id).where(Licence.id == licence_id).with_for_update()
        )
        return None if locked is None else await self.get_for_read(licence_id)

    async def page(
        self, *, buyer_id: uuid.UUID | None, after: str | None, limit: int
    ) -> Page[Licence]:
        statement = self._read()
        if buyer_id is not None:
            statement = statement.where(Licence.buyer_id == buyer_id)
        return await self.paginate(
            statement,
            order_by=[Licence.granted_at, Licence.id],
            after=after,
            limit=limit,
            descending=True,
        )
