"""Embedding a signed C2PA manifest in a delivered image, and reading one back.

The manifest (c2pa-python builds, signs and embeds it; nothing of C2PA is written here)
holds, besides the `c2pa.opened` action on the file as uploaded (its parent ingredient):

- `cawg.training-mining`: the catalogue's shape (services/catalogue/signals.py; delivery
  may not import the catalogue, so the entry labels are repeated here). An entry that
  covers a licensed use is `constrained` (the licence named below is the condition, and
  it binds only its buyer); every other entry is `notAllowed`. Nothing is `allowed`.
- `org.assent.licence` (`LICENCE_ASSERTION`): the licence, delivery, work, version, terms
  hash (`terms_id`, sha256 of the canonical terms), the entry's fingerprint and the
  sha256 of the file as uploaded.

Each buyer's copy therefore differs, and a file leaked alone names its licence. JPEG,
PNG and WebP carry it (`EMBEDDABLE`); other formats are delivered unchanged.
"""

import io
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import c2pa

from assent.protocol import b64decode
from services.delivery.config import Settings
from services.delivery.manifest import ManifestSigner
from services.delivery.provenance.certificates import CertificateAuthority

LICENCE_ASSERTION = "org.assent.licence"
TRAINING_MINING_LABEL = "cawg.training-mining"
# Which licensed uses fall under each entry (as services/catalogue/signals.py maps them).
TRAINING_MINING_ENTRIES: dict[str, frozenset[str]] = {
    "cawg.ai_training": frozenset({"training", "fine_tuning"}),
    "cawg.ai_generative_training": frozenset({"training", "fine_tuning", "synthetic_data"}),
    "cawg.ai_inference": frozenset({"retrieval", "evaluation"}),
    "cawg.data_mining": frozenset(
        {"training", "fine_tuning", "retrieval", "evaluation", "synthetic_data"}
    ),
}
EMBEDDABLE = ("image/jpeg", "image/png", "image/webp")
SNIFF_BYTES = 12
"""Enough of a file's head to tell its format by its magic bytes."""


def sniff(head: bytes) -> str | None:
    """The embeddable format of a file by its first bytes (never by its name, which the
    creator chose), or None: delivered unchanged."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class Stamp:
    """What a delivered copy says of itself."""

    licence_id: uuid.UUID
    delivery_id: uuid.UUID
    work_id: uuid.UUID
    version_id: uuid.UUID
    terms_id: str
    fingerprint: str
    original_sha256: str
    uses: Sequence[str]
    file_name: str

    def assertion(self) -> dict[str, Any]:
        return {
            "licence_id": str(self.licence_id),
            "delivery_id": str(self.delivery_id),
            "work_id": str(self.work_id),
            "version_id": str(self.version_id),
            "terms_sha256": self.terms_id,
            "fingerprint": self.fingerprint,
            "original_sha256": self.original_sha256,
            "uses": sorted(self.uses),
            "issuer": "Assent",
        }


def training_mining(licence_id: uuid.UUID, uses: Sequence[str]) -> dict[str, Any]:
    entries: dict[str, dict[str, str]] = {}
    for label, covered in TRAINING_MINING_ENTRIES.items():
        licensed = sorted(covered.intersection(uses))
        if licensed:
            entries[label] = {
                "use": "constrained",
                "constraint_info": (
                    f"Licensed through Assent under licence {licence_id} for "
                    f"{', '.join(licensed)}, to its buyer only"
                ),
            }
        else:
            entries[label] = {"use": "notAllowed"}
    return {"label": TRAINING_MINING_LABEL, "data": {"entries": entries}}


def manifest_definition(stamp: Stamp) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": "Assent delivery", "version": "1"}],
        "title": stamp.file_name,
        "assertions": [
            training_mining(stamp.licence_id, stamp.uses),
            {"label": LICENCE_ASSERTION, "data": stamp.assertion()},
        ],
    }


class Embedder:
    """Signs manifests with one delivery key (one generation of it) under its leaf
    certificate. Blocking (CPU): call it from a thread; c2pa's signer and context are
    safe to share between threads."""

    def __init__(
        self, sign: Callable[[bytes], bytes], chain_pem: str, context: c2pa.Context
    ) -> None:
        self._signer = c2pa.Signer.from_callback(sign, c2pa.C2paSigningAlg.ED25519, chain_pem, None)
        self._context = context

    def embed(self, source: BinaryIO, media_type: str, stamp: Stamp, dest: BinaryIO) -> None:
        """Write `source` with the manifest embedded to `dest`."""
        builder = c2pa.Builder(manifest_definition(stamp), self._context)
        # An edit of the uploaded file: c2pa records it as the parent ingredient, opened.
        builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
        builder.sign(self._signer, media_type, source, dest)

    def embed_bytes(self, data: bytes, media_type: str, stamp: Stamp) -> bytes:
        out = io.BytesIO()
        self.embed(io.BytesIO(data), media_type, stamp, out)
        return out.getvalue()


def provenance_from(settings: Settings) -> "Provenance | None":
    """The service's provenance setup, or None when embedding is switched off."""
    if not settings.embed_provenance:
        return None
    return Provenance(
        CertificateAuthority(
            chain_pem=settings.c2pa_certificate_chain,
            ca_certificate_pem=settings.c2pa_ca_certificate,
            ca_key_pem=settings.c2pa_ca_key.get_secret_value(),
            trust_anchors_pem=settings.c2pa_trust_anchors,
        )
    )


class Provenance:
    """The service's C2PA setup: the CA or chain (see `certificates`), the reading
    context that trusts it, and an `Embedder` per delivery key."""

    def __init__(self, authority: CertificateAuthority) -> None:
        self._authority = authority
        self._embedders: dict[str, Embedder] = {}
        self._lock = threading.Lock()
        settings = {
            "version": 1,
            # A thumbnail would add kilobytes to every file and says nothing of the licence.
            "builder": {"thumbnail": {"enabled": False}},
            "trust": {"trust_anchors": authority.trust_anchors_pem},
            "verify": {"verify_trust": True},
        }
        self.context = c2pa.Context.from_dict(settings)

    def embedder(self, signer: ManifestSigner) -> Embedder:
        """The embedder of the key `signer` holds; its leaf certificate is issued once."""
        with self._lock:
            embedder = self._embedders.get(signer.key_id)
            if embedder is None:
                chain = self._authority.chain_for(signer.published().public_key)
                embedder = Embedder(
                    lambda data: b64decode(signer.sign_message(memoryview(data))),
                    chain,
                    self.context,
                )
                self._embedders[signer.key_id] = embedder
            return embedder
