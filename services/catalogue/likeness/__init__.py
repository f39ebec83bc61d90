"""Near-duplicate detection: perceptual hashes of images, MinHash of texts, and a store
that finds a fingerprint's near matches by exact band lookups in SQL."""

from services.catalogue.likeness.fingerprint import Fingerprint, near_score, signature_bands
from services.catalogue.likeness.models import (
    DuplicateMatch,
    FingerprintBand,
    FingerprintKind,
    StoredFingerprint,
)
from services.catalogue.likeness.service import LikenessService, Match, likeness_service

__all__ = [
    "DuplicateMatch",
    "Fingerprint",
    "FingerprintBand",
    "FingerprintKind",
    "LikenessService",
    "Match",
    "StoredFingerprint",
    "likeness_service",
    "near_score",
    "signature_bands",
]
