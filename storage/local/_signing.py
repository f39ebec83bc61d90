"""HMAC-signed URLs: what the local object server accepts in place of SigV4.

A URL names its operation (``op``), its expiry (``exp``, Unix seconds) and whatever it
pins (length, type, sha256, upload and part), and carries an HMAC-SHA256 of all of them
with the bucket and key. Keys are validated by the caller.
"""

import hashlib
import hmac
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from storage.object_store import (
    PresignedRequest,
    StorageError,
    StorageSettings,
    check_sha256,
    expiry_seconds,
    presigned_put_headers,
)

_SIGNATURE_VERSION = "assent-local-v1"
# Which HTTP methods each signed operation admits.
_METHODS = {"get": {"GET", "HEAD"}, "put": {"PUT"}, "part": {"PUT"}}


class UrlExpired(StorageError):
    pass


class SignatureInvalid(StorageError):
    pass


class UrlSigner:
    def __init__(self, settings: StorageSettings, clock: Callable[[], float]) -> None:
        self._bucket = settings.bucket
        self._public_url = settings.public_url.rstrip("/")
        self._secret = settings.signing_secret.get_secret_value().encode()
        self._clock = clock

    def get_url(self, key: str, *, expires_in: timedelta, filename: str | None) -> str:
        params = {"op": "get", "exp": str(self._expiry(expires_in))}
        if filename is not None:
            params["filename"] = filename
        return self._signed_url(key, params)

    def put_request(
        self,
        key: str,
        *,
        expires_in: timedelta,
        content_length: int | None,
        sha256: str | None,
        content_type: str | None,
    ) -> PresignedRequest:
        expires = self._expiry(expires_in)
        params = {"op": "put", "exp": str(expires)}
        if content_length is not None:
            params["len"] = str(content_length)
        if sha256 is not None:
            params["sha256"] = check_sha256(sha256)
        if content_type is not None:
            params["type"] = content_type
        return PresignedRequest(
            "PUT",
            self._signed_url(key, params),
            presigned_put_headers(content_length, content_type),
            datetime.fromtimestamp(expires, UTC),
        )

    def part_request(
        self, key: str, upload_id: str, part_number: int, *, expires_in: timedelta, sha256: str
    ) -> PresignedRequest:
        expires = self._expiry(expires_in)
        params = {
            "op": "part",
            "exp": str(expires),
            "upload": upload_id,
            "part": str(part_number),
            "sha256": check_sha256(sha256),
        }
        return PresignedRequest(
            "PUT", self._signed_url(key, params), {}, datetime.fromtimestamp(expires, UTC)
        )

    def verify(self, key: str, query: Sequence[tuple[str, str]], method: str) -> dict[str, str]:
        params = dict(query)
        if len(params) != len(query):
            raise SignatureInvalid("a query parameter is repeated")
        signature = params.pop("sig", "")
        if not hmac.compare_digest(signature.encode(), self._sign(key, params).encode()):
            raise SignatureInvalid("the signature does not match the URL")
        if self._clock() > int(params["exp"]):
            raise UrlExpired("the URL has expired")
        if method not in _METHODS.get(params["op"], set()):
            raise SignatureInvalid(f"the URL is not signed for {method}")
        return params

    def _expiry(self, expires_in: timedelta) -> int:
        return int(self._clock()) + expiry_seconds(expires_in)

    def _signed_url(self, key: str, params: dict[str, str]) -> str:
        query = urlencode({**params, "sig": self._sign(key, params)})
        return f"{self._public_url}/o/{quote(key, safe='/')}?{query}"

    def _sign(self, key: str, params: dict[str, str]) -> str:
        if not self._secret:
            raise StorageError("ASSENT_STORAGE_SIGNING_SECRET is not set; refusing to sign")
        # Keys cannot hold newlines (validate_key), so the fields cannot run together.
        message = "\n".join(
            [_SIGNATURE_VERSION, self._bucket, key, urlencode(sorted(params.items()))]
        )
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()
