"""The secrets of people's sign-in, derived from the gateway's session secret with HKDF,
one key per use: a mailed link's MAC, and a session's CSRF token.

Neither is stored. A link is `<id>.<mac>`: the id finds its row (purpose, expiry, whether
it was used), the MAC proves the link was made here, for that purpose. The CSRF token is
a MAC of the session's id: a page of the portal's own origin reads it from the sign-in
answer and sends it in a header; another site's page cannot read it, and the cookie alone
does nothing.
"""

import base64
import hashlib
import hmac
import uuid

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

MAC_BYTES = 24


def _key(secret: SecretStr, use: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=b"assent people v1|" + use).derive(
        secret.get_secret_value().encode()
    )


def _mac(key: bytes, message: bytes) -> str:
    digest = hmac.new(key, message, hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class PeopleSecrets:
    def __init__(self, secret: SecretStr) -> None:
        self.configured = bool(secret.get_secret_value())
        self._links = _key(secret, b"mailed link")
        self._csrf = _key(secret, b"csrf")

    def link(self, link_id: uuid.UUID, purpose: str) -> str:
        return f"{link_id.hex}.{_mac(self._links, link_id.bytes + purpose.encode())}"

    @staticmethod
    def link_id(token: str) -> uuid.UUID | None:
        head, _, _ = token.partition(".")
        try:
            return uuid.UUID(hex=head)
        except ValueError:
            return None

    def link_matches(self, token: str, link_id: uuid.UUID, purpose: str) -> bool:
        return hmac.compare_digest(token.encode(), self.link(link_id, purpose).encode())

    def csrf(self, session_id: uuid.UUID) -> str:
        return _mac(self._csrf, session_id.bytes)

    def csrf_matches(self, session_id: uuid.UUID, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.csrf(session_id).encode())
