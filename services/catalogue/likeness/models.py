"""Fingerprints of works' files, and their bands: the index near matches are found by.

A lookup asks for the bands whose (kind, band, value) equals one of the query's, an
exact match that a B-tree serves on PostgreSQL and SQLite alike, and compares the
candidates' signatures in Python.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Enum,
    Float,
    ForeignKey,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.catalogue.models import Base
from services.contracts.catalogue import DuplicateKind
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
    """One band of a fingerprint, with a copy of the fingerprint's signature.

    The primary key is the lookup's index, and it holds the signature too (INCLUDE on
    PostgreSQL; on SQLite the table is its primary key, WITHOUT ROWID): the candidates
    of a band are then read from adjacent index entries and confirmed without a visit to
    the fingerprint table, which a lookup reads only for the few that are near.
    """

    __tablename__ = "fingerprint_band"
    __table_args__ = (
        PrimaryKeyConstraint(
            "kind", "band", "value", "fingerprint_id", postgresql_include=["signature"]
        ),
        {"sqlite_with_rowid": False},
    )

    kind: Mapped[FingerprintKind] = mapped_column(_KIND)
    band: Mapped[int] = mapped_column(SmallInteger)
    value: Mapped[int] = mapped_column(BigInteger)
    fingerprint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fingerprint.id"))
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class DuplicateMatch(Base):
    """Another creator's work that a held work resembles, as found when it was held: what
    the admin reviewing it compares it with."""

    __tablename__ = "duplicate_match"

    work_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work.id"), primary_key=True)
    matched_work_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work.id"), primary_key=True)
    kind: Mapped[DuplicateKind] = mapped_column(
        Enum(
            DuplicateKind,
            native_enum=False,
            length=10,
            values_callable=lambda members: [member.value for member in members],
            validate_strings=True,
        )
    )
    score: Mapped[float] = mapped_column(Float)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
