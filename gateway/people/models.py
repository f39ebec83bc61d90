"""A person's password, their browser sessions, and the links mailed to them.

Nothing here would let a reader of the database in: the password is an argon2 hash, a
session is stored by the sha256 of its cookie, and a mailed link's secret is derived from
the gateway's session secret and the link's id, never stored.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.accounts.models import Base
from services.kit.db import UTCDateTime


class PasswordCredential(Base):
    __tablename__ = "password_credential"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    password_hash: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the account's email was verified; sign-in waits for it."""


class WebSession(Base):
    __tablename__ = "web_session"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkPurpose(StrEnum):
    VERIFY = "verify"
    RESET = "reset"
    # Someone signed up with an address that has an account: its owner is told, and the
    # sign-up is answered as any other, so the form never tells who has an account.
    ALREADY_REGISTERED = "already_registered"


class MailedLink(Base):
    """A link mailed to an account; its row is also the mail's outbox."""

    __tablename__ = "mailed_link"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mail_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    mail_attempts: Mapped[int] = mapped_column(Integer, default=0)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Passkey(Base):
    """A WebAuthn credential a person registered: its public key, never a secret."""

    __tablename__ = "passkey"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    # WebAuthn allows credential ids of up to 1023 bytes.
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # An unsigned 32-bit counter: past a signed integer's range.
    sign_count: Mapped[int] = mapped_column(BigInteger)
    # As the browser named them ("internal", "hybrid", "usb"...), comma separated.
    transports: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChallengePurpose(StrEnum):
    REGISTER = "register"
    SIGN_IN = "sign_in"


class PasskeyChallenge(Base):
    """A challenge handed to a browser, taken (deleted) by the first answer to it."""

    __tablename__ = "passkey_challenge"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    # A registration's challenge belongs to the session that asked for it.
    web_session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("web_session.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
