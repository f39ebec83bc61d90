"""Statement words, stored once under their sha256: every consent given with the same
words points at the same row."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.catalogue.models import Base
from services.kit.db import UTCDateTime, utcnow


class StatementText(Base):
    __tablename__ = "statement_text"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The exact words that were hashed, so anyone can recompute the address.
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
