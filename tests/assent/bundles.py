"""A delivery of images and texts as the marketplace would sell it: works with real terms,
the signed manifest and certificate naming them, and the licence the gateway shows."""

import asyncio
import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from PIL import Image

from assent.models import Licence, Terms
from assent.protocol import Signer, canonical_json
from services.contracts.catalogue import MediaType
from services.contracts.delivery import (
    IN_TOTO_PAYLOAD_TYPE,
    IN_TOTO_STATEMENT_TYPE,
    MANIFEST_PREDICATE_TYPE,
    ManifestEntry,
    ManifestHeader,
)
from services.contracts.licensing import (
    CertificateLine,
    CertificateRead,
    LicenceCertificate,
    LicenceStatus,
)
from tests.assent.documents import NOW, signed_certificate
from tests.assent.stand_in import GatewayStandIn

TRAINING_TERMS = Terms(
    uses=["training", "evaluation"],
    commercial_use=True,
    attribution_required=True,
    territory=["WORLD"],
    duration_days=365,
)
EVALUATION_TERMS = Terms(
    uses=["evaluation"],
    commercial_use=False,
    attribution_required=False,
    territory=["PT", "BR"],
    duration_days=90,
)


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), colour).save(out, format="PNG")
    return out.getvalue()


@dataclass(frozen=True)
class Work:
    title: str
    file_name: str
    data: bytes
    media_type: MediaType
    creators: str
    terms: Terms


WORKS = [
    Work(
        "Harbour at dawn",
        "harbour.png",
        png("orange"),
        MediaType.IMAGE,
        "Ines Duarte",
        TRAINING_TERMS,
    ),
    Work(
        "Gulls", "gulls.png", png("grey"), MediaType.IMAGE, "Rui Costa, Ana Melo", EVALUATION_TERMS
    ),
    Work(
        "Tide tables",
        "tides.txt",
        "High water at 06:12, «low» at 12:30.\n".encode(),
        MediaType.TEXT,
        "Ines Duarte",
        TRAINING_TERMS,
    ),
]


@dataclass(frozen=True)
class SoldBundle:
    delivery_id: uuid.UUID
    licence_id: uuid.UUID
    entries: list[ManifestEntry]
    licence: dict[str, Any]
    """The licence as the gateway's GraphQL shows it, with its certificate."""


def _licence(
    licence_id: uuid.UUID, entries: list[ManifestEntry], certificate: CertificateRead
) -> dict[str, Any]:
    money = {"amountMinor": 1200, "currency": "EUR"}
    lines = [
        {
            "workId": str(entry.work_id),
            "versionId": str(entry.version_id),
            "title": work.title,
            "mediaType": work.media_type.value.upper(),
            "fileName": entry.file_name,
            "size": entry.size,
            "sha256": entry.sha256,
            "attribution": entry.attribution,
            "termsId": work.terms.terms_id,
            "terms": work.terms.model_dump(mode="json", by_alias=True),
            "price": money,
            "startsAt": NOW.isoformat(),
            "endsAt": (NOW + timedelta(days=work.terms.duration_days)).isoformat(),
            "status": "ACTIVE",
            "excludedReason": None,
        }
        for entry, work in zip(entries, WORKS, strict=True)
    ]
    Licence.model_validate(
        shown := {
            "id": str(licence_id),
            "buyerId": str(certificate.certificate.buyer_id),
            "buyerName": "Kelp Lab",
            "bundleId": str(uuid.uuid4()),
            "quoteId": str(uuid.uuid4()),
            "uses": ["TRAINING", "EVALUATION"],
            "total": money,
            "platformFee": money,
            "refunded": {"amountMinor": 0, "currency": "EUR"},
            "status": "ACTIVE",
            "grantedAt": NOW.isoformat(),
            "startsAt": NOW.isoformat(),
            "endsAt": (NOW + timedelta(days=365)).isoformat(),
            "refundedAt": None,
            "lines": lines,
            "delivery": None,
            "certificate": certificate.model_dump(mode="json"),
        }
    )
    return shown


def sell(gateway: GatewayStandIn, manifest_signer: Signer, licence_signer: Signer) -> SoldBundle:
    delivery_id, licence_id, buyer_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    entries = []
    for work in WORKS:
        [entry] = asyncio.run(gateway.store_files(delivery_id, [(work.file_name, work.data)]))
        entries.append(
            entry.model_copy(
                update={
                    "media_type": work.media_type,
                    "attribution": work.creators,
                    "terms_id": work.terms.terms_id,
                }
            )
        )
    header = ManifestHeader(
        delivery_id=delivery_id,
        licence_id=licence_id,
        bundle_id=uuid.uuid4(),
        buyer_id=buyer_id,
        buyer_name="Kelp Lab",
        issued_at=NOW,
        terms_ids=sorted({work.terms.terms_id for work in WORKS}),
        key_id=manifest_signer.key_id,
        entry_count=len(entries),
    )
    statement = {
        "_type": IN_TOTO_STATEMENT_TYPE,
        "subject": [{"name": e.path, "digest": {"sha256": e.sha256}} for e in entries],
        "predicateType": MANIFEST_PREDICATE_TYPE,
        "predicate": {
            "header": header.model_dump(mode="json"),
            "entries": [entry.model_dump(mode="json") for entry in entries],
        },
    }
    gateway.issue(
        delivery_id, manifest_signer.sign(IN_TOTO_PAYLOAD_TYPE, canonical_json(statement))
    )
    shown = LicenceCertificate(
        licence_id=licence_id,
        buyer_id=buyer_id,
        buyer_name="Kelp Lab",
        uses=["training", "evaluation"],
        granted_at=NOW,
        status=LicenceStatus.ACTIVE,
        issued_at=NOW,
        lines=[
            CertificateLine(
                work_id=entry.work_id,
                version_id=entry.version_id,
                sha256=entry.sha256,
                terms_id=entry.terms_id,
                starts_at=NOW,
                ends_at=NOW + timedelta(days=365),
            )
            for entry in entries
        ],
    )
    certificate = CertificateRead(
        certificate=shown, envelope=signed_certificate(licence_signer, shown)
    )
    licence = _licence(licence_id, entries, certificate)
    gateway.licences[str(licence_id)] = licence
    return SoldBundle(delivery_id, licence_id, entries, licence)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
