"""Co-creators invited by email, before or after they have an account.

Only the gateway knows people's addresses, so the catalogue holds an invitation to an
address as a keyed hash of the normalised address (HMAC-SHA256 under a key derived from
the session secret): it can match a later claim without ever learning, or letting a reader
of its database guess, the address. An address whose account has verified it gets the
invitation at once (the catalogue's usual invitation mail follows); any other is mailed
here, from its own outbox row, with a link to sign up or sign in, and the invitation is
claimed for the account that verifies the address (at verification, or at sign-in, which
also retries a claim the catalogue could not take). The answer is the same words either
way, so it never tells whether the address has an account.

The mailed link needs no secret of its own: what makes the invitation someone's is their
account verifying the address, which a verify link already proves.
"""

import hashlib
import hmac
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from sqlalchemy import Integer, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from gateway.accounts.models import Account, Base
from gateway.accounts.repository import AccountRepository
from gateway.accounts.service import Principal
from gateway.clients.catalogue import CatalogueClient
from gateway.people.models import PasswordCredential
from services.contracts.catalogue import AddressClaim, AddressInvite
from services.kit.db import UTCDateTime, short_session, utcnow
from services.kit.errors import AssentError, FieldError, InvalidRequest
from services.kit.mail import Mailer, MailNotSent, retry_delay
from services.kit.worker import PollingWorker

log = structlog.get_logger()

BATCH = 20
LEASE = timedelta(minutes=2)


class AddressInvitationMail(Base):
    """An invitation mailed to an address with no verified account; the row is its outbox."""

    __tablename__ = "address_invitation_mail"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
    work_title: Mapped[str] = mapped_column(String(300))
    inviter_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    mail_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    mail_attempts: Mapped[int] = mapped_column(Integer, default=0)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def normalised(email: str) -> str:
    address = email.strip().lower()
    local, at, domain = address.partition("@")
    if not (local and at and "." in domain) or len(address) > 320:
        raise InvalidRequest(
            "this is not an email address",
            fields=[FieldError("email", "write an address such as name@example.org", "email")],
        )
    return address


def sent_to(address: str) -> str:
    return f"an invitation was sent to {address}"


async def verified_account(session: AsyncSession, address: str) -> Account | None:
    """The account whose verified address this is: one still waiting for its sign-up to
    be verified has not proved the address, and gets the invitation by mail instead."""
    account = await AccountRepository(session).get_by_email(address)
    if account is None:
        return None
    credential = await session.get(PasswordCredential, account.id)
    return account if credential is None or credential.verified_at is not None else None


class CoCreatorInvitations:
    def __init__(self, secret: SecretStr) -> None:
        self._key = HKDF(
            algorithm=SHA256(), length=32, salt=None, info=b"assent people v1|co-creator address"
        ).derive(secret.get_secret_value().encode())

    def address_key(self, address: str) -> str:
        return hmac.new(self._key, address.encode(), hashlib.sha256).hexdigest()

    async def invite(
        self,
        session: AsyncSession,
        catalogue: CatalogueClient,
        principal: Principal,
        work_id: uuid.UUID,
        *,
        email: str,
        basis_points: int,
    ) -> str:
        """Invite the address to a share of the principal's work; the same words whether
        or not it has an account."""
        address = normalised(email)
        key = self.address_key(address)
        work = await catalogue.invite_by_address(
            principal, work_id, AddressInvite(address_key=key, basis_points=basis_points)
        )
        account = await verified_account(session, address)
        if account is not None:
            await catalogue.claim_address_invitations(
                AddressClaim(address_key=key, account_id=account.id, name=account.name)
            )
        else:
            now = utcnow()
            session.add(
                AddressInvitationMail(
                    id=uuid.uuid4(),
                    address=address,
                    work_title=work.title,
                    inviter_name=principal.account.name,
                    created_at=now,
                    mail_due_at=now,
                    mail_attempts=0,
                )
            )
        return sent_to(address)

    async def claim(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalogue: CatalogueClient,
        account_id: uuid.UUID,
    ) -> None:
        """The invitations made to the account's address become its own, once it has
        verified the address. A claim the catalogue cannot take now is logged, never in the
        way of signing in: the next sign-in claims again."""
        async with short_session(sessionmaker, service="gateway") as session:
            account = await session.get(Account, account_id)
            if account is None or await verified_account(session, account.email) is None:
                return
        try:
            claimed = await catalogue.claim_address_invitations(
                AddressClaim(
                    address_key=self.address_key(account.email.strip().lower()),
                    account_id=account.id,
                    name=account.name,
                )
            )
        except AssentError as exc:
            log.warning("co_creator.claim.failed", account_id=str(account_id), error=str(exc))
            return
        if claimed:
            log.info("co_creator.invitations.claimed", account_id=str(account_id), n=len(claimed))


def mail_text(row: AddressInvitationMail, portal_url: str) -> tuple[str, str]:
    return (
        "You are invited to co-create a work on Assent",
        f"Hello,\n\n{row.inviter_name} invites you to co-create \u201c{row.work_title}\u201d "
        "on Assent, with a share of what it earns.\n\nTo accept or decline, sign up with "
        f"this address ({row.address}) at\n\n  {portal_url}#sign-up-details\n\nor sign in if you "
        "already have an account with it. Your consent to its uses comes after you accept; "
        "nothing is sold until you have given it.\n\nIf this is not for you, ignore this "
        "mail.\n",
    )


class AddressInvitationMailer:
    def __init__(
        self,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        mailer: Mailer,
        *,
        portal_url: str,
        poll_seconds: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._mailer = mailer
        self._portal_url = portal_url
        self.worker = PollingWorker(
            self.send_due, name="invitation-mail", poll_seconds=poll_seconds, batch_size=BATCH
        )

    async def send_due(self) -> int:
        now = utcnow()
        async with self._sessionmaker()() as session, session.begin():
            due = list(
                await session.scalars(
                    select(AddressInvitationMail)
                    .where(AddressInvitationMail.mail_due_at <= now)
                    .order_by(AddressInvitationMail.mail_due_at)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            for row in due:
                row.mail_due_at = now + LEASE
                row.mail_attempts += 1
            # Written before the rows leave the session, as the people links' mailer does.
            await session.flush()
            session.expunge_all()
        for row in due:
            await self._send(row)
        return len(due)

    async def _send(self, row: AddressInvitationMail) -> None:
        subject, body = mail_text(row, self._portal_url)
        values: dict[str, datetime | None]
        try:
            await self._mailer.send(self._mailer.message(row.address, subject, body))
        except MailNotSent as exc:
            log.warning("invitation.mail.failed", mail_id=str(row.id), error=str(exc))
            values = {"mail_due_at": utcnow() + retry_delay(row.mail_attempts)}
        else:
            log.info("invitation.mail.sent", mail_id=str(row.id))
            values = {"mailed_at": utcnow(), "mail_due_at": None}
        async with self._sessionmaker()() as session, session.begin():
            await session.execute(
                update(AddressInvitationMail)
                .where(
                    AddressInvitationMail.id == row.id,
                    AddressInvitationMail.mail_due_at == row.mail_due_at,
                )
                .values(**values)
            )
