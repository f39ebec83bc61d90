"""A downloaded bundle that stands on its own: beside the files and the signed manifest,
the documents to verify it and to use it as the licence allows, and the layouts that
dataset tools read without Assent.

    DIR/<work id>/<file name>     the files (assent.download)
    manifest.dsse.json            the signed manifest
    keys.json                     the published keys as of the download
    licence.json                  the licence, each line with its terms
    licence-certificate.json      the signed licence certificate
    terms/<terms_id>.json         each line's terms, in the canonical JSON they hash from
    NOTICE                        every creator, and those the terms oblige you to credit
    records.jsonl                 one row per file with its licence columns
    metadata.jsonl, texts.jsonl   the Hugging Face layout (imagefolder/audiofolder, JSON lines)
    README.md                     the dataset card, with YAML front matter
    croissant.json                the same records as a Croissant 1.1 dataset

`open_bundle` reads it back offline: the manifest verified with the kept keys, the
certificate too, and each record's terms checked against the hash the manifest signs.
The kept keys prove only what the gateway published at download time; pass `keys` to
check against keys obtained otherwise.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assent.bundle._croissant import CROISSANT_FILE, croissant
from assent.bundle._huggingface import CARD_FILE, METADATA_FILE, TEXTS_FILE, card_text, layout_files
from assent.bundle._kept import (
    CERTIFICATE_FILE,
    KEYS_FILE,
    LICENCE_FILE,
    TERMS_DIR,
    KeptDocuments,
    read_kept,
    write_file,
    write_json,
    write_kept,
)
from assent.bundle._notice import notice_text
from assent.bundle._rows import COLUMNS, RECORDS_FILE
from assent.errors import BundleInvalid
from assent.models import Licence
from assent.protocol import VerificationError, verify_certificate, verify_manifest
from assent.records import Record, records_of
from assent.verify import VerifiedManifest
from services.contracts.licensing import LicenceCertificate
from services.contracts.signing import Envelope, PublicKeyRead

__all__ = [
    "CARD_FILE",
    "CERTIFICATE_FILE",
    "COLUMNS",
    "CROISSANT_FILE",
    "KEYS_FILE",
    "LICENCE_FILE",
    "METADATA_FILE",
    "NOTICE_FILE",
    "RECORDS_FILE",
    "TERMS_DIR",
    "TEXTS_FILE",
    "OpenedBundle",
    "open_bundle",
    "write_bundle",
]

NOTICE_FILE = "NOTICE"


def write_bundle(
    directory: Path, manifest: VerifiedManifest, licence: Licence, keys: Sequence[PublicKeyRead]
) -> list[Path]:
    """Every document beside a bundle whose files are all downloaded and verified."""
    written = write_kept(directory, licence, list(keys))
    records = list(records_of(directory, manifest, licence))
    for name, text in layout_files(directory, records).items():
        written.append(write_file(directory / name, text))
    written.append(write_file(directory / NOTICE_FILE, notice_text(licence, records)))
    written.append(write_file(directory / CARD_FILE, card_text(directory, licence, records)))
    written.append(write_json(directory / CROISSANT_FILE, croissant(directory, licence, records)))
    return written


@dataclass(frozen=True)
class OpenedBundle:
    directory: Path
    manifest: VerifiedManifest
    licence: Licence
    certificate: LicenceCertificate | None
    """As signed when the bundle was downloaded; it proves nothing about later."""

    def records(self) -> list[Record]:
        return list(records_of(self.directory, self.manifest, self.licence))

    def altered_files(self) -> list[str]:
        """Each file whose bytes are no longer the ones the signed manifest lists."""
        return [
            f"{record.path.relative_to(self.directory)}: sha256 {digest}, the manifest "
            f"lists {record.sha256}"
            for record in self.records()
            if (digest := _sha256_of(record.path)) != record.sha256
        ]


def _sha256_of(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _certificate(kept: KeptDocuments, keys: Sequence[PublicKeyRead]) -> LicenceCertificate | None:
    if kept.certificate is None:
        return None
    try:
        envelope = Envelope.model_validate(kept.certificate.get("envelope"))
        certificate, _ = verify_certificate(
            envelope, keys, shown=kept.certificate.get("certificate")
        )
    except (VerificationError, ValueError) as exc:
        raise BundleInvalid(f"the kept licence certificate does not verify: {exc}") from exc
    if str(certificate.licence_id) != kept.licence.id:
        raise BundleInvalid(
            f"the certificate is for licence {certificate.licence_id}, not {kept.licence.id}"
        )
    return certificate


def open_bundle(directory: Path, *, keys: Sequence[PublicKeyRead] | None = None) -> OpenedBundle:
    """The bundle read from its directory alone, every kept signature verified."""
    kept = read_kept(directory)
    trusted = list(keys) if keys is not None else kept.keys
    try:
        manifest = verify_manifest(kept.envelope, trusted)
    except VerificationError as exc:
        raise BundleInvalid(f"the kept manifest does not verify: {exc}") from exc
    certificate = _certificate(kept, trusted)
    return OpenedBundle(directory, manifest, kept.licence, certificate)
