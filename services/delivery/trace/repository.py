"""The fingerprint index: every entry Assent issued, and the delivery it was issued in."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from services.delivery.models import Delivery, DeliveryEntry
from services.kit.repository import Repository

# Fingerprints looked up per statement: well under every backend's limit on bound
# parameters.
LOOKUP_BATCH = 1_000


class TraceRepository(Repository[DeliveryEntry]):
    model = DeliveryEntry

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

    async def deliveries_with_licence(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Delivery]:
        statement = (
            select(Delivery).where(Delivery.id.in_(ids)).options(joinedload(Delivery.licence))
        )
        return {delivery.id: delivery for delivery in await self.session.scalars(statement)}
