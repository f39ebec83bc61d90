"""The gateway's plain HTTP routes beside GraphQL: download links, deliveries' signed
status lists, and the published keys
(current and past, with their intervals, also as a JWKS), which an admin rotates here.

A download link is checked by the delivery service on every request (owner, licence
valid, not refunded or expired) and answered with a redirect to a short-lived URL of the
object store: the bytes never pass through the gateway.
"""

import asyncio
import base64
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from gateway.accounts.service import Principal
from gateway.clients.delivery import DeliveryClient
from gateway.clients.keys import KeysApi
from gateway.rate_limits import RateLimited
from services.contracts.delivery import DownloadLink
from services.contracts.roles import Role
from services.contracts.shards import SHARD_NAME_PATTERN
from services.contracts.signing import (
    SIGNING_SERVICES,
    WELL_KNOWN_JWKS_PATH,
    WELL_KNOWN_KEYS_PATH,
    JsonWebKey,
    JsonWebKeySet,
    PublicKeyRead,
    PublishedKeys,
)
from services.contracts.status_list import StatusListRead
from services.kit import errors

log = structlog.get_logger()

LINK_EXPIRES_HEADER = "assent-link-expires"
SHARD_NAME = re.compile(SHARD_NAME_PATTERN)

Authenticate = Callable[[Request], Awaitable[Principal | None]]
# Keys change only by rotation, which goes through this gateway and empties the cache; a
# rotation through another replica is seen here within this long.
KEYS_CACHE_SECONDS = 60.0
ROTATE_PATH = "/admin/keys/{service}/rotate"
STATUS_PATH = "/status/{delivery_id}"


def _error(error: errors.AssentError) -> JSONResponse:
    return JSONResponse(
        {"error": error.code, "detail": error.detail},
        status_code=error.status_code,
        headers=error.headers if isinstance(error, RateLimited) else None,
    )


def _redirect(link: DownloadLink) -> RedirectResponse:
    # 307 keeps the method (GET, or HEAD for a client sizing the file) on the redirect.
    # The link's end is named, so a streaming reader asks for a fresh one in time.
    headers = {"cache-control": "no-store", LINK_EXPIRES_HEADER: link.expires_at.isoformat()}
    return RedirectResponse(link.url, status_code=307, headers=headers)


def _url64(text: str) -> str:
    return base64.urlsafe_b64encode(base64.b64decode(text)).rstrip(b"=").decode()


def jwks_of(keys: list[PublicKeyRead]) -> JsonWebKeySet:
    """The keys as JWKs (RFC 8037: base64url without padding), purpose and interval kept."""
    return JsonWebKeySet(
        keys=[
            JsonWebKey(
                x=_url64(key.public_key),
                kid=key.key_id,
                purpose=key.purpose,
                valid_from=key.valid_from,
                valid_until=key.valid_until,
            )
            for key in keys
        ]
    )


def downloads_router(
    authenticate: Authenticate,
    *,
    delivery: DeliveryClient,
    signing: Mapping[str, KeysApi],
) -> APIRouter:
    """`signing`: the key routes of each service that signs, by service name."""
    router = APIRouter(tags=["downloads"])
    cached: tuple[float, PublishedKeys] | None = None
    lock = asyncio.Lock()

    @router.get("/downloads/{delivery_id}/{fingerprint}", response_model=None)
    async def download(delivery_id: str, fingerprint: str, request: Request) -> Response:
        """Redirect to the file's bytes once the caller's licence is checked."""
        try:
            # Counts the request against the caller's rate limit too.
            principal = await authenticate(request)
            if principal is None:
                raise errors.Unauthenticated("sign in with an API key (Authorization: Bearer)")
            try:
                parsed = uuid.UUID(delivery_id)
            except ValueError:
                raise errors.NotFound("no such file") from None
            if not fingerprint.isalnum() or len(fingerprint) > 64:
                raise errors.NotFound("no such file")
            link = await delivery.link(principal, parsed, fingerprint)
        except errors.AssentError as error:
            return _error(error)
        return _redirect(link)

    @router.get("/downloads/{delivery_id}/shards/{name}", response_model=None)
    async def download_shard(delivery_id: str, name: str, request: Request) -> Response:
        """Redirect to a shard's (or the index's) bytes once the caller's licence is checked."""
        try:
            principal = await authenticate(request)
            if principal is None:
                raise errors.Unauthenticated("sign in with an API key (Authorization: Bearer)")
            try:
                parsed = uuid.UUID(delivery_id)
            except ValueError:
                raise errors.NotFound("no such shard") from None
            if not SHARD_NAME.match(name):
                raise errors.NotFound("no such shard")
            link = await delivery.shard_link(principal, parsed, name)
        except errors.AssentError as error:
            return _error(error)
        return _redirect(link)

    @router.get(STATUS_PATH, response_model=StatusListRead)
    async def status_list(delivery_id: str, request: Request) -> StatusListRead | JSONResponse:
        """The delivery's signed status list: which of its records may still be used."""
        try:
            principal = await authenticate(request)
            if principal is None:
                raise errors.Unauthenticated("sign in with an API key (Authorization: Bearer)")
            try:
                parsed = uuid.UUID(delivery_id)
            except ValueError:
                raise errors.NotFound("no such delivery") from None
            return await delivery.status_list(principal, parsed)
        except errors.AssentError as error:
            return _error(error)

    async def current_keys() -> PublishedKeys:
        nonlocal cached
        async with lock:
            if cached is None or time.monotonic() - cached[0] > KEYS_CACHE_SECONDS:
                found: list[PublicKeyRead] = []
                for service in SIGNING_SERVICES:
                    found += await signing[service].keys(None)
                cached = (time.monotonic(), PublishedKeys(keys=found))
            return cached[1]

    @router.get(WELL_KNOWN_KEYS_PATH, response_model=PublishedKeys)
    async def published_keys() -> PublishedKeys | JSONResponse:
        """Every key the marketplace signs or signed with (licence certificates, manifests
        and audit checkpoints), each with the interval it signs in."""
        try:
            return await current_keys()
        except errors.AssentError as error:
            return _error(error)

    @router.get(WELL_KNOWN_JWKS_PATH, response_model=JsonWebKeySet)
    async def published_jwks() -> JsonWebKeySet | JSONResponse:
        """The same keys as a JSON Web Key Set (OKP, Ed25519), with purpose and interval."""
        try:
            return jwks_of((await current_keys()).keys)
        except errors.AssentError as error:
            return _error(error)

    @router.post(ROTATE_PATH, response_model=PublishedKeys)
    async def rotate_key(service: str, request: Request) -> PublishedKeys | JSONResponse:
        """Retire a service's signing key for the next one (admins): its history after."""
        nonlocal cached
        try:
            principal = await authenticate(request)
            if principal is None:
                raise errors.Unauthenticated("sign in with an API key (Authorization: Bearer)")
            if not principal.has(Role.ADMIN):
                raise errors.Forbidden("only an admin rotates signing keys")
            if service not in SIGNING_SERVICES:
                raise errors.NotFound(f"{service!r} signs nothing: one of {list(SIGNING_SERVICES)}")
            history = await signing[service].rotate(principal)
        except errors.AssentError as error:
            return _error(error)
        async with lock:
            # Published at once: a verifier fetching the keys now sees the rotation.
            cached = None
        return PublishedKeys(keys=history)

    return router
