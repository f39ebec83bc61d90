"""Provenance inside delivered files: a C2PA manifest, signed with the delivery key,
naming the licence each copy was issued under (see `embed`), and reading it back from a
leaked file (see `reading`)."""

from services.delivery.provenance.certificates import CertificateAuthority, CertificateSetupError
from services.delivery.provenance.embed import (
    EMBEDDABLE,
    Embedder,
    Provenance,
    Stamp,
    provenance_from,
    sniff,
)
from services.delivery.provenance.reading import Reading, Verdict, read_provenance

__all__ = [
    "EMBEDDABLE",
    "CertificateAuthority",
    "CertificateSetupError",
    "Embedder",
    "Provenance",
    "Reading",
    "Stamp",
    "Verdict",
    "provenance_from",
    "read_provenance",
    "sniff",
]
