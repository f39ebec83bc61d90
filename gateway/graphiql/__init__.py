"""GraphiQL from the gateway's own files: the page and the React, GraphiQL and explorer
bundles it loads, so the IDE works offline and asks no CDN for anything.

The files are the packages' own (VENDORED.md names each), read once from the package.
"""

import hashlib
from dataclasses import dataclass
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

GRAPHIQL_PATH = "/graphiql"
_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# The files change only when a newer release is vendored: a day's cache, then revalidated
# by ETag.
_CACHE_CONTROL = "public, max-age=86400"


@dataclass(frozen=True)
class _Asset:
    body: bytes
    content_type: str
    etag: str


def graphiql_page() -> HTMLResponse:
    return HTMLResponse(files("gateway.graphiql").joinpath("page.html").read_text("utf-8"))


def _load_assets() -> dict[str, _Asset]:
    assets = {}
    for item in files("gateway.graphiql").joinpath("static").iterdir():
        suffix = item.name[item.name.rfind(".") :]
        if item.is_file() and suffix in _CONTENT_TYPES:
            body = item.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            assets[item.name] = _Asset(body, _CONTENT_TYPES[suffix], etag)
    return assets


def graphiql_router() -> APIRouter:
    """The files the page at /graphql loads, under GRAPHIQL_PATH."""
    assets = _load_assets()
    router = APIRouter(prefix=GRAPHIQL_PATH, include_in_schema=False)

    @router.get("/{name}")
    async def asset(name: str, request: Request) -> Response:
        found = assets.get(name)
        if found is None:
            return Response(status_code=404)
        headers = {"etag": found.etag, "cache-control": _CACHE_CONTROL}
        if request.headers.get("if-none-match") == found.etag:
            return Response(status_code=304, headers=headers)
        return Response(found.body, media_type=found.content_type, headers=headers)

    return router


__all__ = ["GRAPHIQL_PATH", "graphiql_page", "graphiql_router"]
