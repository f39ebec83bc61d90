"""A file's fingerprint, for each kind of content that has one."""

from collections.abc import Callable
from dataclasses import dataclass

from services.catalogue.likeness.image import image_bands, image_score, image_signature
from services.catalogue.likeness.models import FingerprintKind
from services.catalogue.likeness.text import text_bands, text_score, text_signature
from services.contracts.catalogue import MediaType

Score = Callable[[bytes, bytes], float | None]


@dataclass(frozen=True)
class Fingerprint:
    kind: FingerprintKind
    signature: bytes
    bands: frozenset[tuple[int, int]]


@dataclass(frozen=True)
class _Scheme:
    kind: FingerprintKind
    signature: Callable[[bytes], bytes | None]
    bands: Callable[[bytes], frozenset[tuple[int, int]]]
    score: Score


# Audio, video and other files are matched by their sha256 alone.
SCHEMES: dict[MediaType, _Scheme] = {
    MediaType.IMAGE: _Scheme(FingerprintKind.IMAGE, image_signature, image_bands, image_score),
    MediaType.TEXT: _Scheme(FingerprintKind.TEXT, text_signature, text_bands, text_score),
}
_BY_KIND = {scheme.kind: scheme for scheme in SCHEMES.values()}


def fingerprint_content(content: bytes, media_type: MediaType) -> Fingerprint | None:
    """None for a media type without a scheme, or content its scheme cannot read."""
    scheme = SCHEMES.get(media_type)
    if scheme is None:
        return None
    signature = scheme.signature(content)
    if signature is None:
        return None
    return Fingerprint(kind=scheme.kind, signature=signature, bands=scheme.bands(signature))


def signature_bands(kind: FingerprintKind, signature: bytes) -> frozenset[tuple[int, int]]:
    return _BY_KIND[kind].bands(signature)


def near_score(kind: FingerprintKind, left: bytes, right: bytes) -> float | None:
    """How alike two signatures of `kind` are, or None when they are not near."""
    return _BY_KIND[kind].score(left, right)
