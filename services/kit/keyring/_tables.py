"""The key history table, which each signing service's migrations create in its schema.

Only public halves are stored. A key's private half is derived again from the seed the
service is configured with (`_derive`), so the database never holds a secret: a copy of
it lets no one sign.
"""

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kit.db import UTCDateTime, new_metadata


class KeyringBase(DeclarativeBase):
    metadata = new_metadata()


class SigningKey(KeyringBase):
    """One key of a purpose: the generation'th key derived from the seed `seed_id` names.

    The open key (`valid_until` null) is the one that signs; there is one per purpose."""

    __tablename__ = "signing_key"
    __table_args__ = (
        UniqueConstraint("seed_id", "generation"),
        Index(
            "ix_signing_key_open",
            "purpose",
            unique=True,
            postgresql_where=text("valid_until IS NULL"),
            sqlite_where=text("valid_until IS NULL"),
        ),
    )

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(50))
    public_key: Mapped[str] = mapped_column(String(64))
    seed_id: Mapped[str] = mapped_column(String(64))
    generation: Mapped[int]
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


KEYRING_METADATA = KeyringBase.metadata
