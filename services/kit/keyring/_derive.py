"""Each generation's private key, derived from the configured seed, and the seed's id.

HKDF (RFC 5869, from `cryptography`) turns the one configured seed into as many
independent Ed25519 seeds as rotations need, so a rotation needs no new secret and the
database keeps none. Generation 0 is the configured seed itself: a service that ran
before keys rotated keeps signing with, and verifying under, the key it always had.
"""

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEED_BYTES = 32


def _hkdf(seed: bytes, info: str) -> bytes:
    return HKDF(algorithm=SHA256(), length=SEED_BYTES, salt=None, info=info.encode()).derive(seed)


def seed_id(seed: bytes) -> str:
    """Names the configured seed in the key history without revealing it (one-way)."""
    return _hkdf(seed, "assent keyring seed id").hex()


def generation_seed(seed: bytes, purpose: str, generation: int) -> bytes:
    if generation == 0:
        return seed
    return _hkdf(seed, f"assent signing key|{purpose}|{generation}")
