"""Labs' receipt keys and the training runs they recorded.

A run's receipt is kept whole (the statement as signed, both signatures) so it can be
served and logged as it was; its records are also rows, one per licence line used, which
is what the models cap counts and what a creator's view reads.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import UTCDateTime
from services.licensing.models import Base


class TrainingKey(Base):
    """An Ed25519 public key a lab signs its receipts with."""

    __tablename__ = "training_key"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    buyer_id: Mapped[uuid.UUID] = mapped_column(index=True)
    public_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TrainingRun(Base):
    __tablename__ = "training_run"
    __table_args__ = (Index("ix_training_run_buyer_model", "buyer_id", "model_name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    buyer_id: Mapped[uuid.UUID]
    buyer_name: Mapped[str] = mapped_column(String(200))
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
    declared_use: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    record_count: Mapped[int] = mapped_column(Integer)
    statement: Mapped[dict[str, Any]] = mapped_column(JSON)
    statement_sha256: Mapped[str] = mapped_column(String(64))
    lab_key_id: Mapped[str] = mapped_column(ForeignKey("training_key.key_id"))
    lab_signature: Mapped[str] = mapped_column(String(100))
    platform_key_id: Mapped[str] = mapped_column(String(16))
    platform_signature: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TrainingRecord(Base):
    """One licence line a run used, with the model it went into: the models cap counts
    distinct (model_name, model_version) per line."""

    __tablename__ = "training_record"
    __table_args__ = (
        ForeignKeyConstraint(
            ["licence_id", "work_id"], ["licence_line.licence_id", "licence_line.work_id"]
        ),
        Index(
            "ix_training_record_line_model", "licence_id", "work_id", "model_name", "model_version"
        ),
        Index("ix_training_record_work", "work_id"),
    )

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("training_run.id"), primary_key=True)
    licence_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    work_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
