"""The local backend's stand-in for an S3 endpoint: serves its signed URLs over HTTP.

Run it as its own process, with the same ``ASSENT_STORAGE_*`` settings as the services::

    uvicorn --factory storage.local_server:create_app --host 127.0.0.1 --port 8005 --no-access-log
"""

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from services.kit.logging import RequestContextMiddleware, configure_logging
from storage.local import LocalObjectStore, SignatureInvalid, SizeMismatch, UrlExpired
from storage.object_store import (
    DEFAULT_CONTENT_TYPE,
    ChecksumMismatch,
    InvalidKey,
    InvalidPart,
    ObjectNotFound,
    StorageError,
    StorageSettings,
    StorageUnavailable,
    UploadNotFound,
    content_disposition,
)

_STATUS_CODES: dict[type[StorageError], int] = {
    UrlExpired: 403,
    SignatureInvalid: 403,
    ObjectNotFound: 404,
    UploadNotFound: 404,
    InvalidKey: 400,
    InvalidPart: 400,
    ChecksumMismatch: 400,
    SizeMismatch: 400,
    StorageUnavailable: 503,
}


_BYTE_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.ASCII)


class Health(BaseModel):
    status: str


class StoredObject(BaseModel):
    key: str
    size: int
    sha256: str | None
    etag: str | None


class StoredPart(BaseModel):
    part_number: int
    size: int
    sha256: str | None
    etag: str


class RangeNotSatisfiable(Exception):
    pass


def _store(request: Request) -> LocalObjectStore:
    store: LocalObjectStore = request.app.state.store
    return store


Store = Annotated[LocalObjectStore, Depends(_store)]
router = APIRouter()


def _error(
    name: str, detail: str, status_code: int, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse({"error": name, "detail": detail}, status_code, headers=headers)


async def _render_storage_error(request: Request, exc: Exception) -> Response:
    status_code = next((code for kind, code in _STATUS_CODES.items() if isinstance(exc, kind)), 500)
    return _error(type(exc).__name__, str(exc), status_code)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The half-open span a single ``bytes=`` range asks for, or None for the whole.

    Anything but one well-formed byte range is ignored, as RFC 9110 allows.
    """
    match = _BYTE_RANGE.fullmatch(header.strip()) if header else None
    if match is None or not any(match.groups()):
        return None
    first, last = match.groups()
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return start, size if not last else min(int(last) + 1, size)


@router.get("/healthz")
async def healthz() -> Health:
    """Answer while the process is up."""
    return Health(status="ok")


@router.get("/o/{key:path}", response_class=Response)
@router.head("/o/{key:path}", response_class=Response)
async def read_object(key: str, request: Request, store: Store) -> Response:
    """Serve a signed GET URL, whole or as one byte range."""
    params = store.verify(key, request.query_params.multi_items(), request.method)
    opened = await store.open(key)
    info = opened.info
    try:
        span = parse_range(request.headers.get("range"), info.size)
    except RangeNotSatisfiable:
        opened.close()
        return _error(
            "RangeNotSatisfiable",
            f"the object has {info.size} bytes",
            416,
            headers={"Content-Range": f"bytes */{info.size}"},
        )
    start, end = span or (0, info.size)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start),
        "Content-Type": info.content_type or DEFAULT_CONTENT_TYPE,
        # Uploaded bytes are data to save, never a page to render on this origin.
        "Content-Disposition": "attachment",
        "X-Content-Type-Options": "nosniff",
    }
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
    if info.etag is not None:
        headers["ETag"] = info.etag
    if "filename" in params:
        headers["Content-Disposition"] = content_disposition(params["filename"])
    status_code = 200 if span is None else 206
    if request.method == "HEAD":
        opened.close()
        return Response(status_code=status_code, headers=headers)
    return StreamingResponse(opened.read_range(start, end), status_code, headers=headers)


@router.put("/o/{key:path}", response_model=None)
async def write_object(
    key: str, request: Request, response: Response, store: Store
) -> StoredObject | StoredPart:
    """Accept a signed PUT of a whole object or of one part of a multipart upload."""
    params = store.verify(key, request.query_params.multi_items(), "PUT")
    size = int(params["len"]) if "len" in params else None
    declared = request.headers.get("content-length")
    if size is not None and declared is not None and int(declared) != size:
        raise SizeMismatch(f"Content-Length is {declared}, the URL is signed for {size}")
    if params["op"] == "part":
        part = await store.upload_part_stream(
            key, params["upload"], int(params["part"]), request.stream(), sha256=params["sha256"]
        )
        response.headers["ETag"] = part.etag
        return StoredPart(
            part_number=part.part_number, size=part.size, sha256=part.sha256, etag=part.etag
        )
    content_type = params.get("type") or request.headers.get("content-type")
    info = await store.put_stream(
        key,
        request.stream(),
        content_type=content_type or DEFAULT_CONTENT_TYPE,
        size=size,
        sha256=params.get("sha256"),
    )
    if info.etag is not None:
        response.headers["ETag"] = info.etag
    return StoredObject(key=info.key, size=info.size, sha256=info.sha256, etag=info.etag)


def create_app(settings: StorageSettings | None = None) -> FastAPI:
    settings = settings or StorageSettings()
    # JSON logs without query strings: a signed URL's signature is a credential.
    configure_logging("objects", os.environ.get("ASSENT_LOG_LEVEL", "INFO"))
    if not settings.signing_secret.get_secret_value():
        raise ValueError("ASSENT_STORAGE_SIGNING_SECRET must be set to serve signed URLs")
    store = LocalObjectStore(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.ensure_bucket()
        yield

    app = FastAPI(title="Assent local object server", lifespan=lifespan)
    app.state.store = store
    app.add_middleware(RequestContextMiddleware)
    # The creator portal PUTs files from the gateway's origin. A signed URL is the whole
    # authority (no cookies), so any origin may use one it holds.
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["PUT"], allow_headers=["*"], max_age=600
    )
    app.add_exception_handler(StorageError, _render_storage_error)
    app.include_router(router)
    return app
