"""A creator's notifications and which kinds they want mailed.

They live in the catalogue, not the gateway: the catalogue knows whom an event concerns
(a work's owner and co-creators, each one's share of a sale) and already receives the
events through its inbox, while the gateway runs no receiver. The gateway reads them over
HTTP as it reads everything else of the catalogue, and mails those due (it alone knows
people's addresses) through internal calls, so no service reads another's tables.
"""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.catalogue.models import Base
from services.contracts.catalogue import NotificationKind
from services.kit.db import UTCDateTime

_KIND = Enum(
    NotificationKind,
    native_enum=False,
    length=20,
    values_callable=lambda members: [member.value for member in members],
    validate_strings=True,
)


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_creator_id_created_at", "creator_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    creator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("creator.id"))
    kind: Mapped[NotificationKind] = mapped_column(_KIND)
    text: Mapped[str] = mapped_column(String(500))
    work_id: Mapped[uuid.UUID | None]
    invitation_id: Mapped[uuid.UUID | None]
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The row is also the mail's outbox: due when its person has the kind mailed, leased
    # while the gateway (which knows the address) sends it.
    mail_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    mail_attempts: Mapped[int] = mapped_column(Integer, default=0)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationSetting(Base):
    """A creator's choice for one kind; a kind with no row keeps its default."""

    __tablename__ = "notification_setting"

    creator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("creator.id"), primary_key=True)
    kind: Mapped[NotificationKind] = mapped_column(_KIND, primary_key=True)
    mailed: Mapped[bool] = mapped_column(Boolean)
