"""Each endpoint's signing secret, derived rather than stored.

HKDF-SHA256 of the delivery's watermark secret (which never leaves the service), with
the endpoint's id and secret generation in `info`: no secret sits in the database to be
read or leaked, none needs encrypting at rest, and none needs distributing. The secret is
shown to the lab once, when the endpoint is made or its secret rotated (a new
generation), and derived again at each signing. A distinct `info` separates this use of
the key from the watermark's own, so neither derived value tells anything of the other.
"""

import base64
import uuid

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

# The Standard Webhooks prefix of a secret, not a secret.
SECRET_PREFIX = "whsec_"  # noqa: S105
SECRET_BYTES = 32


def endpoint_secret(master: SecretStr, endpoint_id: uuid.UUID, generation: int) -> str:
    """The secret in the Standard Webhooks form: `whsec_` and the base64 key."""
    info = f"assent webhook secret v1|{endpoint_id}|{generation}".encode()
    key = HKDF(algorithm=SHA256(), length=SECRET_BYTES, salt=None, info=info).derive(
        master.get_secret_value().encode()
    )
    return SECRET_PREFIX + base64.b64encode(key).decode()
