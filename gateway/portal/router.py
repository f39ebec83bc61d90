"""Serves the portal's files, each with headers that keep a signed-in page to itself.

The pages are plain ES modules read once from the package; nothing is built or fetched at
run time. The browser uploads files straight to the object store with presigned URLs, and
shows previews from it the same way, so the Content-Security-Policy allows connections
and images from this origin and the store's only.
"""

import hashlib
from dataclasses import dataclass
from importlib.resources import files
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.portal.countries import countries_json
from storage.object_store import StorageSettings

PORTAL_PATH = "/portal"
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Where AWS answers both path-style and virtual-hosted addresses, in every region.
_AWS_S3_ORIGINS = ("https://*.amazonaws.com",)


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _load_assets() -> dict[str, Asset]:
    assets = {}
    static = files("gateway.portal").joinpath("static")
    # Our own modules at the top; libraries vendored unchanged under vendor/.
    for folder, prefix in ((static, ""), (static.joinpath("vendor"), "vendor/")):
        for item in folder.iterdir():
            suffix = item.name[item.name.rfind(".") :]
            if not item.is_file() or suffix not in _CONTENT_TYPES:
                continue
            body = item.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            assets[prefix + item.name] = Asset(body, _CONTENT_TYPES[suffix], etag)
    return assets


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def upload_origins(storage: StorageSettings) -> tuple[str, ...]:
    """The origins a presigned upload URL of this store can have."""
    if storage.backend == "local":
        return (_origin(storage.public_url),)
    endpoint = storage.s3_presign_endpoint_url
    if endpoint is None:
        return _AWS_S3_ORIGINS
    origin = _origin(endpoint)
    if storage.s3_addressing_style == "path":
        return (origin,)
    parts = urlsplit(endpoint)
    return (origin, f"{parts.scheme}://*.{parts.netloc}")


def security_headers(connect_origins: tuple[str, ...]) -> dict[str, str]:
    policy = "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            # Previews (thumbnails, waveforms) load from short-lived URLs of the store.
            "img-src " + " ".join(("'self'", *connect_origins)),
            "connect-src " + " ".join(("'self'", *connect_origins)),
            # The sign-in form is handled by script; were it ever submitted, the key
            # would land in a URL.
            "form-action 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        # Revalidated on every load (cheap with the ETag), so an upgrade shows at once.
        "Cache-Control": "no-cache",
    }


def portal_router(storage: StorageSettings | None = None) -> APIRouter:
    assets = _load_assets()
    countries = countries_json()
    assets["countries.json"] = Asset(
        countries, "application/json", '"' + hashlib.sha256(countries).hexdigest()[:32] + '"'
    )
    headers = security_headers(upload_origins(storage or StorageSettings()))
    router = APIRouter(prefix=PORTAL_PATH, include_in_schema=False)

    @router.get("")
    async def portal_root() -> RedirectResponse:
        # Relative, so it holds behind a proxy that mounts the gateway under a path.
        return RedirectResponse("portal/", status_code=308, headers=headers)

    @router.get("/")
    @router.get("/{name:path}")
    async def portal_file(request: Request, name: str = "index.html") -> Response:
        # `{name:path}` also takes the empty name of the directory itself.
        asset = assets.get(name or "index.html")
        if asset is None:
            return Response("not found", status_code=404, media_type="text/plain", headers=headers)
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers={**headers, "ETag": asset.etag})
        return Response(
            asset.body, media_type=asset.content_type, headers={**headers, "ETag": asset.etag}
        )

    return router


def landing_router() -> APIRouter:
    """`/`: a page for a person who typed the address, leading to the portal and the API."""
    page = files("gateway.portal").joinpath("landing.html").read_bytes()
    headers = security_headers(())
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def landing() -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)

    return router
