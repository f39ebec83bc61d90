"""The documents a bundle keeps beside its files, so that it can be read and verified
with no gateway: the published keys as of the download, the licence with each line's
terms, the signed licence certificate, and each terms document under its own hash."""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from assent.download import MANIFEST_FILE, PART_SUFFIX
from assent.errors import BundleInvalid
from assent.models import Licence, Terms
from services.contracts.signing import Envelope, PublicKeyRead, PublishedKeys

KEYS_FILE = "keys.json"
LICENCE_FILE = "licence.json"
CERTIFICATE_FILE = "licence-certificate.json"
TERMS_DIR = "terms"


@dataclass(frozen=True)
class KeptDocuments:
    """What a downloaded bundle holds besides its files."""

    envelope: Envelope
    keys: list[PublicKeyRead]
    licence: Licence
    certificate: dict[str, Any] | None
    """The `CertificateRead` ({certificate, envelope}) as the gateway gave it."""


def write_file(path: Path, text: str) -> Path:
    """Whole or not at all: a reader never sees half a document."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + PART_SUFFIX)
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


def write_json(path: Path, document: object) -> Path:
    return write_file(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def terms_path(directory: Path, terms: Terms) -> Path:
    return directory / TERMS_DIR / f"{terms.terms_id}.json"


def write_kept(directory: Path, licence: Licence, keys: list[PublicKeyRead]) -> list[Path]:
    written = [
        write_json(directory / KEYS_FILE, PublishedKeys(keys=keys).model_dump(mode="json")),
        write_json(directory / LICENCE_FILE, licence.model_dump(mode="json")),
    ]
    if licence.certificate is not None:
        written.append(write_json(directory / CERTIFICATE_FILE, licence.certificate))
    for terms in {line.terms_id: line.terms for line in licence.lines}.values():
        # The canonical bytes, so that the file's sha256 is the terms_id it is named by.
        written.append(write_file(terms_path(directory, terms), terms.canonical_json()))
    return written


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise BundleInvalid(
            f"{path.parent} holds no {path.name}: download the delivery into it again"
        ) from exc


def read_kept(directory: Path) -> KeptDocuments:
    """The kept documents, parsed but not yet verified."""
    try:
        envelope = Envelope.model_validate_json(_read(directory / MANIFEST_FILE))
        keys = PublishedKeys.model_validate_json(_read(directory / KEYS_FILE)).keys
        licence = Licence.model_validate_json(_read(directory / LICENCE_FILE))
    except ValidationError as exc:
        raise BundleInvalid(
            f"{directory}: a kept document is not what it should be: {exc}"
        ) from exc
    certificate_path = directory / CERTIFICATE_FILE
    certificate = json.loads(certificate_path.read_bytes()) if certificate_path.is_file() else None
    return KeptDocuments(envelope, keys, licence, certificate)
