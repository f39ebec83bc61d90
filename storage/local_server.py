"""The local backend's stand-in for an S3 endpoint: serves its signed URLs over HTTP.

Run it as its own process, with the same ``ASSENT_STORAGE_*`` settings as the services::

    uvicorn --factory storage.local_server:create_app --host 127.0.0.1 --port 8005 --no-access-log
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from services.kit.logging import RequestContextMiddleware, configure_logging
from storage.local import (
    LocalObjectStore,
    OpenedObject,
    SignatureInvalid,
    SizeMismatch,
    UrlExpired,
)
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


class HeldFileResponse(FileResponse):
    """Starlette's file response (Range, If-Range, multi-range, 416) over an object held open.

    It reads through the open descriptor rather than the object's path: a write replaces
    the path atomically, and the headers and bytes must both come from the version opened.
    """

    def __init__(self, opened: OpenedObject, headers: dict[str, str]) -> None:
        descriptor = opened.file.fileno()
        super().__init__(f"/dev/fd/{descriptor}", headers=headers, stat_result=os.fstat(descriptor))
        self.opened = opened

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.opened.close()


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


@router.get("/healthz")
async def healthz() -> Health:
    """Answer while the process is up."""
    return Health(status="ok")


@router.get("/o/{key:path}", response_class=Response)
@router.head("/o/{key:path}", response_class=Response)
async def read_object(key: str, request: Request, store: Store) -> Response:
    """Serve a signed GET URL, whole or in byte ranges."""
    params = store.verify(key, request.query_params.multi_items(), request.method)
    opened = await store.open(key)
    info = opened.info
    headers = {
        # Set here so that a text type is served as stored, with no charset added.
        "Content-Type": info.content_type or DEFAULT_CONTENT_TYPE,
        # Uploaded bytes are data to save, never a page to render on this origin.
        "Content-Disposition": "attachment",
        "X-Content-Type-Options": "nosniff",
    }
    if info.etag is not None:
        headers["ETag"] = info.etag
    if "filename" in params:
        headers["Content-Disposition"] = content_disposition(params["filename"])
    return HeldFileResponse(opened, headers)


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
