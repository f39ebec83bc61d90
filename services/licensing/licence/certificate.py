"""A licence as a signed certificate (DSSE, Ed25519) that a third party can verify."""

from assent.protocol import Signer, canonical_json
from services.contracts.catalogue import (
    Use,
)
from services.contracts.licensing import (
    LICENCE_CERTIFICATE_TYPE,
    CertificateLine,
    CertificateRead,
    LicenceCertificate,
    LicenceLineStatus,
)
from services.kit.db import utcnow
from services.licensing.models import (
    Licence,
)


def signed_certificate(licence: Licence, signer: Signer) -> CertificateRead:
    """The licence as a signed document: the works still licensed, and its status."""
    certificate = LicenceCertificate(
        licence_id=licence.id,
        buyer_id=licence.buyer_id,
        buyer_name=licence.buyer_name,
        uses=[Use(use) for use in licence.uses],
        granted_at=licence.granted_at,
        status=licence.status,
        issued_at=utcnow(),
        lines=[
            CertificateLine(
                work_id=line.work_id,
                version_id=line.version_id,
                sha256=line.sha256,
                terms_id=line.terms_id,
                starts_at=line.starts_at,
                ends_at=line.ends_at,
            )
            for line in licence.lines
            if line.status != LicenceLineStatus.EXCLUDED
        ],
    )
    envelope = signer.sign(
        LICENCE_CERTIFICATE_TYPE, canonical_json(certificate.model_dump(mode="json"))
    )
    return CertificateRead(certificate=certificate, envelope=envelope)
