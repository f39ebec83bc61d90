"""Signed manifests and licence certificates built the way the marketplace signs them."""

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from assent.protocol import Signer, canonical_json, generate_seed
from services.contracts.catalogue import MediaType, Use
from services.contracts.delivery import (
    IN_TOTO_PAYLOAD_TYPE,
    IN_TOTO_STATEMENT_TYPE,
    MANIFEST_PREDICATE_TYPE,
    ManifestEntry,
    ManifestHeader,
)
from services.contracts.licensing import (
    LICENCE_CERTIFICATE_TYPE,
    CertificateLine,
    LicenceCertificate,
    LicenceStatus,
)
from services.contracts.signing import (
    CERTIFICATE_KEY_PURPOSE,
    MANIFEST_KEY_PURPOSE,
    Envelope,
    PublishedKeys,
)

MANIFEST_PURPOSE = MANIFEST_KEY_PURPOSE
CERTIFICATE_PURPOSE = CERTIFICATE_KEY_PURPOSE
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def new_signer(purpose: str) -> Signer:
    return Signer(SecretStr(generate_seed()), purpose=purpose)


def published(*signers: Signer) -> PublishedKeys:
    return PublishedKeys(keys=[signer.published() for signer in signers])


def entry_for(
    delivery_id: uuid.UUID, file_name: str, data: bytes, *, work_id: uuid.UUID | None = None
) -> ManifestEntry:
    fingerprint = secrets.token_hex(16)
    return ManifestEntry(
        work_id=work_id or uuid.uuid4(),
        version_id=uuid.uuid4(),
        file_name=file_name,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        media_type=MediaType.OTHER,
        attribution="A. Creator",
        terms_id="t" * 64,
        fingerprint=fingerprint,
        path=f"/downloads/{delivery_id}/{fingerprint}",
    )


def statement(delivery_id: uuid.UUID, entries: Sequence[ManifestEntry], key_id: str) -> Any:
    header = ManifestHeader(
        delivery_id=delivery_id,
        licence_id=uuid.uuid4(),
        bundle_id=uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        buyer_name="Example Lab",
        issued_at=NOW,
        terms_ids=["t" * 64],
        key_id=key_id,
        entry_count=len(entries),
    )
    return {
        "_type": IN_TOTO_STATEMENT_TYPE,
        "subject": [{"name": e.path, "digest": {"sha256": e.sha256}} for e in entries],
        "predicateType": MANIFEST_PREDICATE_TYPE,
        "predicate": {
            "header": header.model_dump(mode="json"),
            "entries": [entry.model_dump(mode="json") for entry in entries],
        },
    }


def sign_statement(signer: Signer, document: Any) -> Envelope:
    return signer.sign(IN_TOTO_PAYLOAD_TYPE, canonical_json(document))


def signed_manifest(
    signer: Signer, delivery_id: uuid.UUID, entries: Sequence[ManifestEntry]
) -> Envelope:
    return sign_statement(signer, statement(delivery_id, entries, signer.key_id))


def with_payload(envelope: Envelope, change: Callable[[Any], None]) -> Envelope:
    """The envelope with its payload edited and its signature left as it was."""
    document = json.loads(base64.b64decode(envelope.payload))
    change(document)
    payload = base64.b64encode(canonical_json(document)).decode()
    return envelope.model_copy(update={"payload": payload})


def certificate() -> LicenceCertificate:
    return LicenceCertificate(
        licence_id=uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        buyer_name="Example Lab",
        uses=[Use.TRAINING, Use.EVALUATION],
        granted_at=NOW,
        status=LicenceStatus.ACTIVE,
        issued_at=NOW,
        lines=[
            CertificateLine(
                work_id=uuid.uuid4(),
                version_id=uuid.uuid4(),
                sha256="a" * 64,
                terms_id="t" * 64,
                starts_at=NOW,
                ends_at=NOW + timedelta(days=365),
            )
        ],
    )


def signed_certificate(signer: Signer, shown: LicenceCertificate) -> Envelope:
    return signer.sign(LICENCE_CERTIFICATE_TYPE, canonical_json(shown.model_dump(mode="json")))
