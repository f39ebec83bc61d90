"""The notifications due to be mailed, leased to the gateway that sends them.

The catalogue decides what is mailed (each person's choice, checked when the notification
is written); the gateway, which alone knows people's addresses, asks for what is due,
sends it and reports back. A lease keeps two gateway replicas from sending the same one;
a sender that dies mid-send leaves its lease to run out, so a mail may come twice, never
not at all.
"""

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.notification.models import Notification
from services.catalogue.notification.repository import NotificationRepository
from services.contracts.catalogue import ACCOUNTS_ISSUER, NotificationMail, NotificationMailed
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import Forbidden, NotFound
from services.kit.internal_token import Caller
from services.kit.mail import retry_delay

LEASE = timedelta(minutes=2)


def _require_mailer(caller: Caller) -> None:
    if caller.issuer != ACCOUNTS_ISSUER or not caller.has(Role.SERVICE):
        raise Forbidden("only the gateway sends people's mail")


class NotificationMailService:
    async def lease_due(
        self, session: AsyncSession, caller: Caller, first: int
    ) -> list[NotificationMail]:
        _require_mailer(caller)
        now = utcnow()
        due = await NotificationRepository(session).due_for_mail(now, first)
        for notification in due:
            notification.mail_due_at = now + LEASE
            notification.mail_attempts += 1
        await session.flush()
        return [
            NotificationMail(
                id=notification.id,
                creator_id=notification.creator_id,
                kind=notification.kind,
                text=notification.text,
                invitation_id=notification.invitation_id,
                attempts=notification.mail_attempts,
            )
            for notification in due
        ]

    async def record(
        self,
        session: AsyncSession,
        caller: Caller,
        notification_id: uuid.UUID,
        outcome: NotificationMailed,
    ) -> None:
        _require_mailer(caller)
        notification = await session.get(Notification, notification_id, with_for_update=True)
        if notification is None:
            raise NotFound("no such notification")
        if outcome.sent:
            notification.mailed_at = utcnow()
            notification.mail_due_at = None
        else:
            notification.mail_due_at = utcnow() + retry_delay(notification.mail_attempts)
        await session.flush()


notification_mail_service = NotificationMailService()
