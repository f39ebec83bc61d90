"""Downloads: the audit trail of every link handed out."""

import uuid
from datetime import datetime

from services.delivery.models import Delivery, Download
from services.kit.repository import Repository


class DownloadRepository(Repository[Download]):
    model = Download

    async def record(self, delivery: Delivery, fingerprint: str, *, at: datetime) -> Download:
        return await self.create(
            Download(
                id=uuid.uuid4(),
                delivery_id=delivery.id,
                fingerprint=fingerprint,
                buyer_id=delivery.buyer_id,
                downloaded_at=at,
            )
        )
