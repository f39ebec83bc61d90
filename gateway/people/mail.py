"""Sends the links people are mailed (verify, reset, "you already have an account") after
the change that made them committed. The link's row is its own outbox, leased while it is
sent, as licensing's payout confirmations are (services/licensing/payout/mail.py)."""

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.accounts.models import Account
from gateway.people.models import LinkPurpose, MailedLink
from gateway.people.secrets import PeopleSecrets
from services.kit.db import utcnow
from services.kit.mail import Mailer, MailNotSent, retry_delay
from services.kit.worker import PollingWorker

log = structlog.get_logger()

BATCH = 20
LEASE = timedelta(minutes=2)


def mail_text(purpose: str, name: str, url: str) -> tuple[str, str]:
    """The subject and body of one link's mail."""
    match purpose:
        case LinkPurpose.VERIFY:
            return (
                "Confirm your email address for Assent",
                f"Hello {name},\n\nto finish signing up, open\n\n  {url}\n\n"
                "The link works once, for a day. If you did not sign up, ignore this mail.\n",
            )
        case LinkPurpose.RESET:
            return (
                "Choose a new Assent password",
                f"Hello {name},\n\nto choose a new password, open\n\n  {url}\n\n"
                "The link works once, for a day, and signs you out everywhere. If you did "
                "not ask for it, ignore this mail: your password stays as it is.\n",
            )
        case _:
            return (
                "Someone tried to sign up with your address",
                f"Hello {name},\n\nsomeone tried to make an Assent account with this address, "
                f"which already has one. If it was you, sign in, or choose a new password "
                f"at\n\n  {url}\n\nIf it was not, you need do nothing.\n",
            )


class LinkMailer:
    def __init__(
        self,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        mailer: Mailer,
        link_secrets: PeopleSecrets,
        *,
        portal_url: str,
        poll_seconds: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._mailer = mailer
        self._secrets = link_secrets
        self._portal_url = portal_url
        self.worker = PollingWorker(
            self.send_due, name="people-mail", poll_seconds=poll_seconds, batch_size=BATCH
        )

    def _url(self, link: MailedLink) -> str:
        if link.purpose == LinkPurpose.ALREADY_REGISTERED:
            return f"{self._portal_url}#forgot-password"
        return f"{self._portal_url}#{link.purpose}/{self._secrets.link(link.id, link.purpose)}"

    async def send_due(self) -> int:
        now = utcnow()
        async with self._sessionmaker()() as session, session.begin():
            rows = await session.execute(
                select(MailedLink, Account)
                .join(Account, Account.id == MailedLink.account_id)
                .where(MailedLink.mail_due_at <= now)
                .order_by(MailedLink.mail_due_at)
                .limit(BATCH)
                .with_for_update(of=MailedLink, skip_locked=True)
            )
            due = [(link, account) for link, account in rows.all()]
            for link, _ in due:
                link.mail_due_at = now + LEASE
                link.mail_attempts += 1
            # Written before the rows leave the session: an expunged row's changes are
            # never flushed, and a lease not written would send the mail at every poll.
            await session.flush()
            session.expunge_all()
        for link, account in due:
            await self._send(link, account)
        return len(due)

    async def _send(self, link: MailedLink, account: Account) -> None:
        url = self._url(link)
        subject, body = mail_text(link.purpose, account.name, url)
        values: dict[str, datetime | None]
        try:
            written = await self._mailer.send(self._mailer.message(account.email, subject, body))
        except MailNotSent as exc:
            log.warning("people.mail.failed", link_id=str(link.id), error=str(exc))
            values = {"mail_due_at": utcnow() + retry_delay(link.mail_attempts)}
        else:
            if written is None:
                log.info("people.mail.sent", link_id=str(link.id), purpose=link.purpose)
            else:
                # No SMTP server (the embedded default on one machine): the person at the
                # console is the one signing up, and the link is what they need, so it is
                # shown here whole (the .eml file beside it may break it over lines). It
                # is the only secret logged: it works once, for a day, and is logged only
                # where no mail server would have carried it instead.
                log.info(
                    "people.mail.written",
                    to=account.email,
                    link=url,
                    purpose=link.purpose,
                    path=str(written),
                )
            values = {"mailed_at": utcnow(), "mail_due_at": None}
        async with self._sessionmaker()() as session, session.begin():
            await session.execute(
                update(MailedLink)
                .where(MailedLink.id == link.id, MailedLink.mail_due_at == link.mail_due_at)
                .values(**values)
            )
