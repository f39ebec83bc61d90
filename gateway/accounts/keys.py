"""API keys: random, shown once, stored as a sha256, recognisable by a visible prefix.

A key has 40 random base62 characters (~238 bits), so a plain sha256 is a safe stored
form: there is nothing to brute-force, and lookup by hash needs no per-key salt.
"""

import hashlib
import re
import secrets
import string
from dataclasses import dataclass

_ALPHABET = string.ascii_letters + string.digits
BOOTSTRAP_KEY_NAME = "bootstrap"
"""The name of the key `ASSENT_ADMIN_KEY` (or the first start) gives the admin."""
KEY_SHAPE = re.compile(r"^(assent_[A-Za-z0-9]{8})_[A-Za-z0-9]{40}$")


@dataclass(frozen=True)
class NewKey:
    secret: str
    prefix: str
    secret_hash: str


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key() -> NewKey:
    return key_from_secret(f"assent_{_random(8)}_{_random(40)}")


def key_from_secret(secret: str) -> NewKey:
    """Raises ValueError when `secret` is not shaped like an Assent key."""
    match = KEY_SHAPE.match(secret)
    if match is None:
        raise ValueError("an API key looks like assent_XXXXXXXX_ followed by 40 letters or digits")
    return NewKey(secret=secret, prefix=match.group(1), secret_hash=hash_key(secret))
