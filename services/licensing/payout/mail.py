"""Sends each payout account change's confirmation mail, after the change committed.

The change's row is its own outbox: a due row is leased (its due time pushed past the
send), mailed, then marked sent; a failure is tried again later, backing off. At least
once: a worker that dies mid-send leaves the lease to run out, and the creator may get a
second mail with the same code.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.db import utcnow
from services.kit.mail import Mailer, MailNotSent, retry_delay
from services.kit.worker import PollingWorker
from services.licensing.payout.accounts import ConfirmationCodes, masked
from services.licensing.payout.models import PayoutAccount

log = structlog.get_logger()

BATCH = 20
LEASE = timedelta(minutes=2)


def confirmation_text(account: PayoutAccount, code: str, portal_url: str) -> str:
    return (
        "Hello,\n\n"
        "you asked Assent to pay your earnings to this bank account:\n\n"
        f"  Account holder: {account.holder}\n"
        f"  IBAN: {masked(account.iban)}\n"
        f"  BIC: {account.bic}\n\n"
        "To confirm it, open\n\n"
        f"  {portal_url}#payout-confirm/{account.id}/{code}\n\n"
        f"or enter this code on your payouts page: {code}\n\n"
        "Payouts started after you confirm go to this account. If you did not ask for "
        "this, do not confirm: your earnings keep going to the account you confirmed "
        "before, and you should change your password.\n"
    )


class ConfirmationMailer:
    def __init__(
        self,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        mailer: Mailer,
        codes: ConfirmationCodes,
        *,
        portal_url: str,
        poll_seconds: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._mailer = mailer
        self._codes = codes
        self._portal_url = portal_url
        self.worker = PollingWorker(
            self.send_due, name="payout-mail", poll_seconds=poll_seconds, batch_size=BATCH
        )

    async def send_due(self) -> int:
        now = utcnow()
        leased_until = now + LEASE
        async with self._sessionmaker()() as session, session.begin():
            due = list(
                await session.scalars(
                    select(PayoutAccount)
                    .where(PayoutAccount.mail_due_at <= now)
                    .order_by(PayoutAccount.mail_due_at)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            for account in due:
                account.mail_due_at = leased_until
                account.mail_attempts += 1
            # The lease is written before the rows leave the session: otherwise it is
            # never saved, and the row is sent again at every poll.
            await session.flush()
            session.expunge_all()
        for account in due:
            await self._send(account)
        return len(due)

    async def _send(self, account: PayoutAccount) -> None:
        mail = self._mailer.message(
            account.email,
            "Confirm your payout account",
            confirmation_text(account, self._codes.code(account.id), self._portal_url),
        )
        try:
            await self._mailer.send(mail)
        except MailNotSent as exc:
            log.warning("payout.mail.failed", account_id=str(account.id), error=str(exc))
            values: dict[str, datetime | None] = {
                "mail_due_at": utcnow() + retry_delay(account.mail_attempts)
            }
        else:
            log.info("payout.mail.sent", account_id=str(account.id))
            values = {"mailed_at": utcnow(), "mail_due_at": None}
        async with self._sessionmaker()() as session, session.begin():
            # Not when a newer request or a confirmation ended the lease meanwhile.
            await session.execute(
                update(PayoutAccount)
                .where(
                    PayoutAccount.id == account.id,
                    PayoutAccount.mail_due_at == account.mail_due_at,
                )
                .values(**values)
            )
