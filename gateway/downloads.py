"""The gateway's plain HTTP routes beside GraphQL: download links, and the published keys.

A download link is checked by the delivery service on every request (owner, licence
valid, not refunded or expired) and answered with a redirect to a short-lived URL of the
object store: the bytes never pass through the gateway.
"""

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from gateway.accounts.service import Principal
from gateway.clients.audit import AuditClient
from gateway.clients.delivery import DeliveryClient
from gateway.clients.licensing import LicensingClient
from gateway.rate_limits import RateLimited
from services.contracts.delivery import DownloadLink
from services.contracts.shards import SHARD_NAME_PATTERN
from services.contracts.signing import WELL_KNOWN_KEYS_PATH, PublicKeyRead, PublishedKeys
from services.kit import errors

log = structlog.get_logger()

LINK_EXPIRES_HEADER = "assent-link-expires"
SHARD_NAME = re.compile(SHARD_NAME_PATTERN)

Authenticate = Callable[[Request], Awaitable[Principal | None]]
KEYS_CACHE_SECONDS = 60.0


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


def downloads_router(
    authenticate: Authenticate,
    *,
    delivery: DeliveryClient,
    licensing: LicensingClient,
    audit: AuditClient,
) -> APIRouter:
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

    @router.get(WELL_KNOWN_KEYS_PATH, response_model=PublishedKeys)
    async def published_keys() -> PublishedKeys | JSONResponse:
        """Every key the marketplace signs with: licence certificates, manifests and audit
        checkpoints."""
        nonlocal cached
        async with lock:
            if cached is None or time.monotonic() - cached[0] > KEYS_CACHE_SECONDS:
                try:
                    found: list[PublicKeyRead] = [
                        *await licensing.keys(None),
                        *await delivery.keys(None),
                        *await audit.keys(None),
                    ]
                except errors.AssentError as error:
                    return _error(error)
                cached = (time.monotonic(), PublishedKeys(keys=found))
            return cached[1]

    return router
