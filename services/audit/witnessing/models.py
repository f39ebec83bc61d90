"""The notes, their cosignatures, and what each witness last cosigned (migration 0004).

On the audit log's own metadata (`services.audit.models.Base`), beside the checkpoints
they sign.
"""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.audit.models import Base
from services.kit.db import UTCDateTime

# vkeys are `<name>+<8 hex>+<base64 of 33 bytes>`; names are short URLs.
VKEY_LENGTH = 300


class CheckpointNote(Base):
    """A checkpoint as a tlog-checkpoint note with the log's signature line.

    `witnessed_at` is set once the quorum of witnesses cosigned it (at once when the log
    has none): from then on the checkpoint is published, and may be served as the latest.
    """

    __tablename__ = "checkpoint_note"

    tree_size: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("checkpoint.tree_size"), primary_key=True, autoincrement=False
    )
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    witnessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NoteCosignature(Base):
    """A witness's cosignature line on a note, as the witness returned it."""

    __tablename__ = "note_cosignature"

    tree_size: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("checkpoint_note.tree_size"),
        primary_key=True,
        autoincrement=False,
    )
    witness: Mapped[str] = mapped_column(String(VKEY_LENGTH), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    cosigned_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WitnessView(Base):
    """The size a witness last cosigned for this log, as it told us (200 or 409): the
    consistency proof of the next submission starts there."""

    __tablename__ = "witness_view"

    witness: Mapped[str] = mapped_column(String(VKEY_LENGTH), primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
