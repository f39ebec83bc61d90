"""MinHash fingerprints of texts, banded for locality-sensitive lookup.

A text becomes the set of its three-word shingles (lower-cased words); 128 MinHash
values estimate the Jaccard similarity of two such sets. Banded 32 x 4, two texts
become candidates with probability 1 - (1 - J^4)^32: 0.96 at J = 0.5, under 0.05 at
J = 0.2. Candidates are then kept only when the estimate reaches `NEAR_JACCARD`.
"""

import hashlib
import re

import numpy as np
from datasketch import MinHash

SHINGLE_WORDS = 3
PERMUTATIONS = 128
ROWS_PER_BAND = 4
# A copy with one word in twenty changed keeps about 0.74 of its shingles' union; two
# unrelated texts share almost none.
NEAR_JACCARD = 0.5
# Fixed, so that signatures computed by any process, at any time, compare.
SEED = 1
SCHEME = "affine32"
_WORD = re.compile(r"\w+")
_VALUE = np.dtype("<u4")


def _shingles(text: str) -> set[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) <= SHINGLE_WORDS:
        return {" ".join(words).encode()} if words else set()
    return {
        " ".join(words[index : index + SHINGLE_WORDS]).encode()
        for index in range(len(words) - SHINGLE_WORDS + 1)
    }


def text_signature(content: bytes) -> bytes | None:
    """128 MinHash values, or None for a text with no word in it."""
    shingles = _shingles(content.decode("utf-8", errors="replace"))
    if not shingles:
        return None
    minhash = MinHash(num_perm=PERMUTATIONS, seed=SEED, scheme=SCHEME)
    minhash.update_batch(sorted(shingles))
    return np.asarray(minhash.hashvalues).astype(_VALUE).tobytes()


def text_bands(signature: bytes) -> frozenset[tuple[int, int]]:
    """(band, value): each band's four MinHash values, hashed to a signed 64-bit key."""
    band_bytes = ROWS_PER_BAND * _VALUE.itemsize
    return frozenset(
        (
            index,
            int.from_bytes(
                hashlib.blake2b(signature[start : start + band_bytes], digest_size=8).digest(),
                "big",
                signed=True,
            ),
        )
        for index, start in enumerate(range(0, len(signature), band_bytes))
    )


def text_score(left: bytes, right: bytes) -> float | None:
    """The estimated Jaccard similarity of the two shingle sets; None when not near."""
    jaccard = float(
        np.mean(np.frombuffer(left, dtype=_VALUE) == np.frombuffer(right, dtype=_VALUE))
    )
    return jaccard if jaccard >= NEAR_JACCARD else None
