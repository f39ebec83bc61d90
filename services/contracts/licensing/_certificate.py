"""Licence certificates: what a buyer shows a third party, signed."""

from datetime import datetime
from uuid import UUID

from services.contracts.catalogue import Use
from services.contracts.licensing._base import Schema
from services.contracts.licensing._licence import LicenceStatus
from services.contracts.signing import Envelope


class CertificateLine(Schema):
    work_id: UUID
    version_id: UUID
    sha256: str
    terms_id: str
    starts_at: datetime
    ends_at: datetime


class LicenceCertificate(Schema):
    """What a buyer shows a third party: who may use which works, how, and until when."""

    licence_id: UUID
    buyer_id: UUID
    buyer_name: str
    uses: list[Use]
    granted_at: datetime
    status: LicenceStatus
    issued_at: datetime
    lines: list[CertificateLine]


class CertificateRead(Schema):
    certificate: LicenceCertificate
    envelope: Envelope
