"""Webhook endpoints', messages' and attempts' queries."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.licensing import LicenceStatus
from services.contracts.webhooks import MessageStatus
from services.delivery.models import Licence, LicenceLine, table_of
from services.delivery.webhook.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from services.kit.repository import Repository


class EndpointRepository(Repository[WebhookEndpoint]):
    model = WebhookEndpoint

    async def of_account(self, account_id: uuid.UUID) -> Sequence[WebhookEndpoint]:
        statement = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.account_id == account_id, WebhookEndpoint.deleted_at.is_(None))
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
        return (await self.session.scalars(statement)).all()

    async def count_of(self, account_id: uuid.UUID) -> int:
        statement = select(func.count()).where(
            WebhookEndpoint.account_id == account_id, WebhookEndpoint.deleted_at.is_(None)
        )
        return int(await self.session.scalar(statement) or 0)


class MessageRepository(Repository[WebhookMessage]):
    model = WebhookMessage

    async def add_all(self, rows: Sequence[Mapping[str, object]]) -> None:
        if rows:
            await self.session.execute(insert(table_of(WebhookMessage)), list(rows))

    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta) -> list[str]:
        """Messages due now, leased: another sender skips them until the lease ends (a
        sender that died mid-send leaves them to be tried again then)."""
        statement = (
            select(WebhookMessage.id)
            .where(
                WebhookMessage.status == MessageStatus.PENDING,
                WebhookMessage.next_attempt_at <= now,
            )
            .order_by(WebhookMessage.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list((await self.session.scalars(statement)).all())
        if ids:
            await self.session.execute(
                update(WebhookMessage)
                .where(WebhookMessage.id.in_(ids))
                .values(next_attempt_at=now + lease)
            )
        return ids

    async def of_endpoint(self, endpoint_id: uuid.UUID, *, limit: int) -> Sequence[WebhookMessage]:
        statement = (
            select(WebhookMessage)
            .where(WebhookMessage.endpoint_id == endpoint_id)
            .order_by(WebhookMessage.created_at.desc(), WebhookMessage.id)
            .limit(limit)
        )
        return (await self.session.scalars(statement)).all()

    async def attempts_of(self, message_ids: Sequence[str]) -> dict[str, list[WebhookAttempt]]:
        found: dict[str, list[WebhookAttempt]] = {message_id: [] for message_id in message_ids}
        if message_ids:
            statement = (
                select(WebhookAttempt)
                .where(WebhookAttempt.message_id.in_(list(message_ids)))
                .order_by(WebhookAttempt.id)
            )
            for attempt in await self.session.scalars(statement):
                found[attempt.message_id].append(attempt)
        return found


class HolderRepository:
    """Which labs hold what: whom webhooks about a work or a licence's end go to."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def holders_of(self, work_id: uuid.UUID) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(buyer, licence) for each licence still in force with a line of the work."""
        statement = (
            select(Licence.buyer_id, Licence.id)
            .join(LicenceLine, LicenceLine.licence_id == Licence.id)
            .where(LicenceLine.work_id == work_id, Licence.status == LicenceStatus.ACTIVE)
            .order_by(Licence.buyer_id, Licence.id)
        )
        return [
            (buyer_id, licence_id) for buyer_id, licence_id in await self.session.execute(statement)
        ]

    async def expiring(
        self, now: datetime, until: datetime, *, limit: int
    ) -> list[tuple[Licence, datetime]]:
        """Licences in force, not yet announced, with a line ending between now and
        `until`, each with its first such end; locked, skipping what another sender has."""
        first_end = func.min(LicenceLine.ends_at)
        ending = (
            select(LicenceLine.licence_id, first_end.label("ends_at"))
            .where(LicenceLine.ends_at > now, LicenceLine.ends_at <= until)
            .group_by(LicenceLine.licence_id)
            .subquery()
        )
        statement = (
            select(Licence, ending.c.ends_at)
            .join(ending, ending.c.licence_id == Licence.id)
            .where(Licence.status == LicenceStatus.ACTIVE, Licence.expiring_notified_at.is_(None))
            .limit(limit)
            .with_for_update(of=Licence, skip_locked=True)
        )
        return [(licence, ends_at) for licence, ends_at in await self.session.execute(statement)]
