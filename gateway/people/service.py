"""Sign-up, email verification, sign-in, sessions, sign-out and password reset.

Answers never tell whether an address has an account: a sign-up with a taken address, or
a reset for an unknown one, is answered as any other (the address's owner is mailed). A
wrong password and an unknown address get the same message. Passwords are hashed with
argon2id (argon2-cffi's defaults); a reset ends every session of the account.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.models import Account
from gateway.accounts.repository import AccountRepository
from gateway.accounts.service import Principal, account_service
from gateway.people.models import LinkPurpose, MailedLink, PasswordCredential, WebSession
from gateway.people.secrets import PeopleSecrets
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import FieldError, InvalidRequest, Unauthenticated

MIN_PASSWORD = 10
MAX_PASSWORD = 200
WRONG_CREDENTIALS = "the email or the password is wrong"
SESSION_ENDED = "your session has ended: sign in again"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def checked_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidRequest(
            "choose another password",
            fields=[
                FieldError(
                    "password",
                    f"use {MIN_PASSWORD} to {MAX_PASSWORD} characters; a few words you will "
                    "remember make a good one",
                    "length",
                )
            ],
        )
    return password


@dataclass(frozen=True)
class SignedIn:
    """A new session: the cookie's value (shown to the browser once), and its CSRF token."""

    token: str
    session_id: uuid.UUID
    csrf: str
    account: Account


class People:
    def __init__(
        self, secrets_: PeopleSecrets, *, session_length: timedelta, link_length: timedelta
    ) -> None:
        self.secrets = secrets_
        self._hasher = PasswordHasher()
        # Checked when there is no account, so a wrong address takes as long as a wrong
        # password and the time of the answer tells nothing either.
        self._stand_in = self._hasher.hash(secrets.token_urlsafe(16))
        self._session_length = session_length
        self._link_length = link_length

    def _mail_link(self, session: AsyncSession, account_id: uuid.UUID, purpose: str) -> None:
        now = utcnow()
        session.add(
            MailedLink(
                id=uuid.uuid4(),
                account_id=account_id,
                purpose=purpose,
                created_at=now,
                expires_at=now + self._link_length,
                mail_due_at=now,
                mail_attempts=0,
            )
        )

    async def sign_up(
        self, session: AsyncSession, *, name: str, email: str, password: str, role: Role
    ) -> None:
        """A new account, waiting for its email to be verified; a taken address is told
        by mail, and the answer is the same."""
        checked_password(password)
        hashed = self._hasher.hash(password)
        existing = await AccountRepository(session).get_by_email(email.strip().lower())
        if existing is not None:
            self._mail_link(session, existing.id, LinkPurpose.ALREADY_REGISTERED)
            return
        account = await account_service.create_account(
            session, None, name=name, email=email, role=role
        )
        session.add(
            PasswordCredential(account_id=account.id, password_hash=hashed, updated_at=utcnow())
        )
        self._mail_link(session, account.id, LinkPurpose.VERIFY)

    async def _redeem(self, session: AsyncSession, token: str, purpose: str) -> MailedLink:
        """The link, once: a forged, used or expired one is refused alike."""
        link_id = self.secrets.link_id(token)
        link = (
            await session.get(MailedLink, link_id, with_for_update=True)
            if link_id is not None
            else None
        )
        if (
            link is None
            or link.purpose != purpose
            or not self.secrets.link_matches(token, link.id, purpose)
            or link.used_at is not None
            or link.expires_at <= utcnow()
        ):
            raise InvalidRequest(
                "this link does not work: it was used already, it is too old, or it is "
                "not one we sent. Ask for a new one.",
                fields=[FieldError("token", "not a valid link", "invalid_link")],
            )
        link.used_at = utcnow()
        return link

    async def verify(self, session: AsyncSession, token: str) -> uuid.UUID:
        """The account whose address the link verifies."""
        link = await self._redeem(session, token, LinkPurpose.VERIFY)
        credential = await session.get(PasswordCredential, link.account_id)
        if credential is not None and credential.verified_at is None:
            credential.verified_at = utcnow()
        await session.flush()
        return link.account_id

    async def sign_in(self, session: AsyncSession, *, email: str, password: str) -> SignedIn:
        account = await AccountRepository(session).get_by_email(email.strip().lower())
        credential = (
            await session.get(PasswordCredential, account.id) if account is not None else None
        )
        stored = credential.password_hash if credential is not None else self._stand_in
        if not self._matches(stored, password) or account is None or credential is None:
            raise Unauthenticated(WRONG_CREDENTIALS)
        if credential.verified_at is None:
            self._mail_link(session, account.id, LinkPurpose.VERIFY)
            raise Unauthenticated(
                "verify your email address first: we sent you a new link to do so"
            )
        if self._hasher.check_needs_rehash(credential.password_hash):
            credential.password_hash = self._hasher.hash(password)
        return await self.start_session(session, account.id)

    async def start_session(self, session: AsyncSession, account_id: uuid.UUID) -> SignedIn:
        """A new session for an account that proved who it is (a password or a passkey)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        web_session = WebSession(
            id=uuid.uuid4(),
            account_id=account_id,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + self._session_length,
        )
        session.add(web_session)
        await session.flush()
        with_roles = await account_service.get_account(session, account_id)
        return SignedIn(token, web_session.id, self.secrets.csrf(web_session.id), with_roles)

    def _matches(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def principal(self, session: AsyncSession, token: str, csrf: str | None) -> Principal:
        """The caller of a request made with a session cookie, and its CSRF token."""
        found = await session.scalar(
            select(WebSession).where(WebSession.token_hash == token_hash(token))
        )
        if found is None or found.ended_at is not None or found.expires_at <= utcnow():
            raise Unauthenticated(SESSION_ENDED)
        if csrf is None or not self.secrets.csrf_matches(found.id, csrf):
            raise Unauthenticated("the request lacks this session's CSRF token")
        account = await account_service.get_account(session, found.account_id)
        return Principal(
            account_id=account.id, key_id=found.id, roles=account.role_set, account=account
        )

    async def current(self, session: AsyncSession, token: str) -> tuple[Account, str]:
        """The session's account and its CSRF token, for a page opened again."""
        found = await session.scalar(
            select(WebSession).where(WebSession.token_hash == token_hash(token))
        )
        if found is None or found.ended_at is not None or found.expires_at <= utcnow():
            raise Unauthenticated(SESSION_ENDED)
        account = await account_service.get_account(session, found.account_id)
        return account, self.secrets.csrf(found.id)

    async def sign_out(
        self, session: AsyncSession, principal: Principal, *, everywhere: bool
    ) -> None:
        statement = update(WebSession).where(WebSession.ended_at.is_(None))
        if everywhere:
            statement = statement.where(WebSession.account_id == principal.account_id)
        else:
            statement = statement.where(WebSession.id == principal.key_id)
        await session.execute(statement.values(ended_at=utcnow()))

    async def request_reset(self, session: AsyncSession, email: str) -> None:
        """A reset link to the address, when it has an account; the same answer when not."""
        account = await AccountRepository(session).get_by_email(email.strip().lower())
        if account is not None:
            self._mail_link(session, account.id, LinkPurpose.RESET)

    async def reset(self, session: AsyncSession, token: str, password: str) -> None:
        """A new password from a reset link; the address is verified by it, and every
        session of the account ends."""
        checked_password(password)
        link = await self._redeem(session, token, LinkPurpose.RESET)
        now = utcnow()
        credential = await session.get(PasswordCredential, link.account_id)
        if credential is None:
            credential = PasswordCredential(account_id=link.account_id)
            session.add(credential)
        credential.password_hash = self._hasher.hash(password)
        credential.updated_at = now
        credential.verified_at = credential.verified_at or now
        await session.execute(
            update(WebSession)
            .where(WebSession.account_id == link.account_id, WebSession.ended_at.is_(None))
            .values(ended_at=now)
        )
        await session.flush()
