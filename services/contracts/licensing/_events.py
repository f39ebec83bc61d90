"""The events licensing emits for the other services and the audit log."""

from datetime import datetime
from uuid import UUID

from services.contracts.catalogue import Use
from services.contracts.licensing._base import Schema
from services.contracts.licensing._ledger import TransactionRead
from services.contracts.licensing._licence import LicenceLineRead


class LicenceGranted(Schema):
    licence_id: UUID
    buyer_id: UUID
    buyer_name: str
    bundle_id: UUID
    quote_id: UUID
    uses: list[Use]
    currency: str
    total_minor: int
    granted_at: datetime
    lines: list[LicenceLineRead]


class LedgerRecorded(Schema):
    """A ledger transaction: a sale carries the royalty split in its postings."""

    transaction: TransactionRead


class LicenceRefunded(Schema):
    licence_id: UUID
    buyer_id: UUID
    refunded_by: UUID
    reason: str
    refunded_at: datetime
    amount_minor: int
    currency: str


class LicenceRevoked(Schema):
    """A licence revoked without a refund: from then on nothing of it may be used."""

    licence_id: UUID
    buyer_id: UUID
    revoked_by: UUID
    reason: str
    revoked_at: datetime


class SaleScopeRecorded(Schema):
    """Licensing has recorded which uses of a work it may sell from now on, after a
    catalogue event (a withdrawal; a consent withdrawn, revised or given again). Every sale
    of the work commits either before or after this record, never across it, and the
    audit log holds both in that order: a line sold before a withdrawal is delivered on its
    terms, and no sale is made after it."""

    work_id: UUID
    open_uses: list[Use]
    """Empty when the work is not for sale at all."""
    cause_event_id: UUID
    cause_topic: str
    recorded_at: datetime
