"""Fingerprints of works' files, and their bands: the index near matches are found by.

A lookup asks for the rows whose (kind, band, value) equals one of the query's, an
exact match that a B-tree serves on PostgreSQL and SQLite alike, and then compares the
few candidates' signatures in Python.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Enum, ForeignKey, LargeBinary, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from services.catalogue.models import Base
from services.kit.db import UTCDateTime, utcnow


class FingerprintKind(StrEnum):
    IMAGE = "image"
    TEXT = "text"


_KIND = Enum(
    FingerprintKind,
    native_enum=False,
    length=10,
    values_callable=lambda members: [member.value for member in members],
    validate_strings=True,
)


class StoredFingerprint(Base):
    __tablename__ = "fingerprint"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    work_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work.id"), index=True)
    # The work's owner when it was fingerprinted, so that a creator's own works are
    # left out of their matches without a join.
    creator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("creator.id"))
    kind: Mapped[FingerprintKind] = mapped_column(_KIND)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FingerprintBand(Base):
    """One band of a fingerprint; the primary key is the lookup's index."""

    __tablename__ = "fingerprint_band"

    kind: Mapped[FingerprintKind] = mapped_column(_KIND, primary_key=True)
    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fingerprint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fingerprint.id"), primary_key=True
    )
