"""A delivery's shard set (requested by its buyer, built in the background) and its
shards. The index is one object named on the set; the signed shard manifest is small
(one subject per shard) and kept on the row."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.contracts.shards import ShardSetStatus
from services.delivery.models import Base
from services.kit.db import UTCDateTime


class ShardSet(Base):
    __tablename__ = "shard_set"
    __table_args__ = (
        # What the shard builder polls: only sets still building.
        Index(
            "ix_shard_set_building",
            "next_attempt_at",
            postgresql_where=text("status = 'building'"),
            sqlite_where=text("status = 'building'"),
        ),
    )

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("delivery.id"), primary_key=True)
    # Plain VARCHAR holding the value, as delivery's other statuses.
    status: Mapped[ShardSetStatus] = mapped_column(
        Enum(
            ShardSetStatus,
            native_enum=False,
            length=20,
            values_callable=lambda members: [member.value for member in members],
            validate_strings=True,
        )
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shard_bytes: Mapped[int] = mapped_column(BigInteger)
    index_key: Mapped[str | None] = mapped_column(String(1024))
    index_size: Mapped[int | None] = mapped_column(BigInteger)
    index_sha256: Mapped[str | None] = mapped_column(String(64))
    record_count: Mapped[int] = mapped_column(default=0)
    envelope: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Build retries and the builder's lease, as for a delivery (see builder/assemble.py).
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_id: Mapped[uuid.UUID | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    shards: Mapped[list["Shard"]] = relationship(lazy="raise", order_by="Shard.position")


class Shard(Base):
    __tablename__ = "shard"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shard_set.delivery_id"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    records: Mapped[int]
