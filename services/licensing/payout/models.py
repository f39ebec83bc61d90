"""Payout accounts, payout runs and their payments, bank statements read back, and labs'
bank references.

A payment is the unit a run cannot repeat: one per (run, creator), written in the same
transaction as the ledger's move of that creator's money to "in payment", so a run that
crashed and goes on pays nobody twice. Only one run per currency runs at a time.
"""

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.contracts.licensing import PaymentState, PayoutAccountState, PayoutRunState
from services.kit.db import UTCDateTime
from services.licensing.models import Base, enum_column


class PayoutAccount(Base):
    """A bank account a creator asked to be paid to; it counts once confirmed."""

    __tablename__ = "payout_account"
    __table_args__ = (Index("ix_payout_account_creator", "creator_id", "confirmed_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    creator_id: Mapped[uuid.UUID]
    holder: Mapped[str] = mapped_column(String(70))
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str] = mapped_column(String(11))
    bank_country: Mapped[str] = mapped_column(String(2))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The confirmation mail: where it goes, and whether it went.
    email: Mapped[str] = mapped_column(String(320))
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mail_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    mail_attempts: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def state(self) -> PayoutAccountState:
        if self.superseded_at is not None:
            return PayoutAccountState.SUPERSEDED
        if self.confirmed_at is not None:
            return PayoutAccountState.CONFIRMED
        return PayoutAccountState.PENDING


class PayoutRun(Base):
    __tablename__ = "payout_run"
    __table_args__ = (
        Index(
            "uq_payout_run_running",
            "currency",
            unique=True,
            postgresql_where=text("state = 'running'"),
            sqlite_where=text("state = 'running'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[PayoutRunState] = mapped_column(enum_column(PayoutRunState))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    started_by: Mapped[uuid.UUID | None]
    execution_date: Mapped[date] = mapped_column(Date)
    minimum_minor: Mapped[int] = mapped_column(BigInteger)
    payments: Mapped[int] = mapped_column(Integer, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped_without_account: Mapped[int] = mapped_column(Integer, default=0)
    # The last creator the run has decided on: it goes on after them, in creator order.
    decided_through: Mapped[uuid.UUID | None]
    # Every creator is decided; the files are being written.
    decided: Mapped[bool] = mapped_column(default=False)
    # The last payment written to a file, in end-to-end id order; and how many files.
    filed_through: Mapped[str | None] = mapped_column(String(35))
    files: Mapped[int] = mapped_column(Integer, default=0)


class PayoutFile(Base):
    """One pain.001 of a run: a run's payments go to the bank in files of at most so
    many transfers (banks cap a file's size, and each file is validated whole)."""

    __tablename__ = "payout_file"

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payout_run.id"), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(35))
    transfers: Mapped[int] = mapped_column(Integer)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    xml: Mapped[str] = mapped_column(Text)


class PayoutPayment(Base):
    __tablename__ = "payout_payment"
    __table_args__ = (Index("ix_payout_payment_creator", "creator_id", "run_id"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payout_run.id"), primary_key=True)
    creator_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # What the bank's statement names the transfer by (SEPA allows 35 characters).
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payout_account.id"))
    holder: Mapped[str] = mapped_column(String(70))
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str] = mapped_column(String(11))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[PaymentState] = mapped_column(enum_column(PaymentState))
    return_reason: Mapped[str | None] = mapped_column(String(200))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BankStatement(Base):
    """A bank statement imported once; importing it again answers this import."""

    __tablename__ = "bank_statement"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    statement_id: Mapped[str] = mapped_column(String(100), unique=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    imported_by: Mapped[uuid.UUID]
    paid: Mapped[int] = mapped_column(Integer)
    returned: Mapped[int] = mapped_column(Integer)
    credited: Mapped[int] = mapped_column(Integer)


class BankEntry(Base):
    """One booked entry of an imported statement, by the bank's own reference for it: an
    entry is applied once, whatever statement carries it again."""

    __tablename__ = "bank_entry"

    entry_reference: Mapped[str] = mapped_column(String(100), primary_key=True)
    statement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bank_statement.id"), index=True)
    matched: Mapped[str] = mapped_column(String(35))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


class BankReference(Base):
    """The creditor reference a lab quotes on its bank transfers."""

    __tablename__ = "bank_reference"

    buyer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(25), unique=True)
