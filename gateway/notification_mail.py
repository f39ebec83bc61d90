"""Mails the notifications the catalogue holds as due: the catalogue decides what is
mailed (each person's choice), the gateway alone knows people's addresses. Each pass leases
a batch from the catalogue, looks each person's address up here, sends, and reports each
outcome back; a mail not sent is tried again later, backing off, as the catalogue decides.

An invitation's mail is the invitation itself, mailed unless its person opted out; its link
leads to the portal's works, where the signed-in invitee opens the work and accepts or
declines.
"""

import uuid
from collections.abc import Callable

import structlog
from pydantic import TypeAdapter
from pydantic_core import to_json
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.accounts.models import Account
from gateway.clients.errors import raise_for_error
from services.contracts.catalogue import NotificationKind, NotificationMail, NotificationMailed
from services.contracts.roles import Role
from services.kit.client import ServiceClient
from services.kit.mail import Mailer, MailNotSent
from services.kit.worker import PollingWorker

log = structlog.get_logger()

BATCH = 20
_DUE = TypeAdapter(list[NotificationMail])
# The gateway calls as itself, a service, not on anyone's behalf.
SUBJECT = "service:gateway"
ROLES = frozenset({Role.SERVICE})

SUBJECTS = {
    NotificationKind.SALE: "A sale of your work on Assent",
    NotificationKind.PAYOUT: "A transfer of your earnings from Assent",
    NotificationKind.REVIEW: "Your work's review on Assent",
    NotificationKind.INVITATION: "You are invited to co-create a work on Assent",
    NotificationKind.INVITATION_ANSWER: "An answer to your invitation on Assent",
    NotificationKind.WITHDRAWAL: "Your work is withdrawn on Assent",
}


def mail_text(notice: NotificationMail, name: str, portal_url: str) -> tuple[str, str]:
    """The subject and body of one notification's mail."""
    if notice.kind == NotificationKind.INVITATION:
        action = (
            f"To accept or decline, sign in at\n\n  {portal_url}#works-section\n\n"
            "and open the work under My works. Your consent to its uses comes after you "
            "accept."
        )
    else:
        action = f"Your notifications are at\n\n  {portal_url}#notifications-section"
    footer = "You choose which notifications are mailed to you on that page."
    return SUBJECTS[notice.kind], f"Hello {name},\n\n{notice.text}\n\n{action}\n\n{footer}\n"


class NotificationMailer:
    def __init__(
        self,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        catalogue: ServiceClient,
        mailer: Mailer,
        *,
        portal_url: str,
        poll_seconds: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._catalogue = catalogue
        self._mailer = mailer
        self._portal_url = portal_url
        self.worker = PollingWorker(
            self.send_due, name="notification-mail", poll_seconds=poll_seconds, batch_size=BATCH
        )

    async def send_due(self) -> int:
        response = await self._catalogue.request(
            "POST",
            "/v1/notifications/mail/lease",
            params={"first": BATCH},
            subject=SUBJECT,
            roles=ROLES,
        )
        raise_for_error(self._catalogue.name, response)
        due = _DUE.validate_json(response.content)
        if not due:
            return 0
        async with self._sessionmaker()() as session:
            people = {
                account.id: account
                for account in await session.scalars(
                    select(Account).where(Account.id.in_({notice.creator_id for notice in due}))
                )
            }
        for notice in due:
            await self._report(notice.id, await self._send(notice, people.get(notice.creator_id)))
        return len(due)

    async def _send(self, notice: NotificationMail, account: Account | None) -> bool:
        if account is None:
            # No such account here (it was removed): nothing to send, ever.
            log.warning("notification.mail.no_account", notification_id=str(notice.id))
            return True
        subject, body = mail_text(notice, account.name, self._portal_url)
        try:
            await self._mailer.send(self._mailer.message(account.email, subject, body))
        except MailNotSent as exc:
            log.warning("notification.mail.failed", notification_id=str(notice.id), error=str(exc))
            return False
        log.info("notification.mail.sent", notification_id=str(notice.id), kind=notice.kind)
        return True

    async def _report(self, notification_id: uuid.UUID, sent: bool) -> None:
        response = await self._catalogue.request(
            "POST",
            f"/v1/notifications/{notification_id}/mailed",
            content=to_json(NotificationMailed(sent=sent)),
            subject=SUBJECT,
            roles=ROLES,
        )
        raise_for_error(self._catalogue.name, response)
