"""Domain errors and the one handler that renders them as `{"error", "detail"}`."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from http import HTTPStatus
from typing import Any, ClassVar

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit.field_words import plain_message
from services.kit.openapi import amend_openapi
from storage.object_store import StorageUnavailable


class ErrorBody(BaseModel):
    error: str
    detail: str
    fields: list[dict[str, Any]] | None = None


class AssentError(Exception):
    status_code: ClassVar[int] = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        # The specific name a remote service gave this error (e.g. `ConsentRequired` for
        # a Conflict), kept when the error crosses HTTP.
        self.code = type(self).__name__

    @property
    def name(self) -> str:
        return type(self).__name__


class Unauthenticated(AssentError):
    status_code = 401


class Forbidden(AssentError):
    status_code = 403


class NotFound(AssentError):
    status_code = 404


class Conflict(AssentError):
    status_code = 409


class Gone(Conflict):
    """The object was valid once and is no longer (a refunded or expired licence)."""

    status_code = 410


class ServiceUnavailable(AssentError):
    status_code = 503

    def __init__(self, detail: str, *, service: str = "unknown") -> None:
        super().__init__(detail)
        self.service = service


class CommitFailed(AssentError):
    """The request's changes could not be committed. The detail says whether none was
    made (the database refused them) or the outcome is unknown (the connection was lost
    during COMMIT). Retrying may succeed once the database can write again."""

    status_code = 503


@asynccontextmanager
async def storage_calls() -> AsyncIterator[None]:
    """Calls to the object store, whose outage is answered as a 503 the caller may retry,
    never a 500."""
    try:
        yield
    except StorageUnavailable as exc:
        raise ServiceUnavailable("the object store is unavailable; try again") from exc


def error_responses(*errors: type[AssentError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry an endpoint declares for the domain errors it can raise,
    each status described by every error it stands for (`Conflict | QuoteExpired`)."""
    names: dict[int, list[str]] = {}
    for error in errors:
        names.setdefault(error.status_code, []).append(error.__name__)
    return {
        status_code: {"model": ErrorBody, "description": " | ".join(named)}
        for status_code, named in names.items()
    }


def _render(error: AssentError) -> JSONResponse:
    fields = (
        [asdict(field) for field in error.fields] if isinstance(error, InvalidRequest) else None
    )
    body = ErrorBody(error=error.name, detail=error.detail, fields=fields or None)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=error.status_code)


def committed_refusal(error: AssentError) -> JSONResponse:
    """`error` answered by a route that returns rather than raises, so its session still
    commits: for a refusal that is itself recorded (a run refused by a cap, and logged)."""
    return _render(error)


async def _handle_assent_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AssentError)
    return _render(exc)


async def _handle_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {
            "field": ".".join(str(part) for part in err["loc"]),
            "message": plain_message(
                err["type"], ".".join(str(part) for part in err["loc"]), err["msg"], err.get("ctx")
            ),
            "code": err["type"],
        }
        for err in exc.errors()
    ]
    body = ErrorBody(error="ValidationFailed", detail="the request is not valid", fields=fields)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=422)


async def _handle_http_exception(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals (no route, wrong method) in the same shape as ours. A body
    that is not UTF-8 fails JSON decoding before validation: FastAPI calls it a 400, but
    it is a payload error like any other, so it is a 422."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        body = ErrorBody(error="ValidationFailed", detail="the request body is not UTF-8 JSON")
        return JSONResponse(body.model_dump(exclude_none=True), status_code=422)
    known = exc.status_code in HTTPStatus._value2member_map_
    phrase = HTTPStatus(exc.status_code).phrase if known else "Error"
    name = "".join(word.capitalize() for word in phrase.split())
    body = ErrorBody(error=name, detail=str(exc.detail))
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=exc.status_code, headers=exc.headers
    )


# PostgreSQL's refusals of a NUL character: in text (character_not_in_repertoire) and
# in JSON (untranslatable_character, for `\u0000`).
_NUL_SQLSTATES = frozenset({"22021", "22P05"})


# The driver's own signs of a broken connection: its protocol left mid-operation
# (InternalClientError, InterfaceError but for its refusal of an argument, DataError),
# or its socket gone.
_DRIVER_CONNECTION_ERRORS = (
    asyncpg.InternalClientError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    OSError,
)
# PostgreSQL's connection exceptions (08), the server ending the session (57P01
# admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now), and the server
# refusing a new one (53300 too_many_connections): each passes, so each is retryable.
_LOST_CONNECTION_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def connection_lost(error: BaseException) -> bool:
    """Whether `error` says the database connection broke (the server ended it, the
    network dropped it, the driver was left mid-operation), rather than that the
    database refused a statement."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    cause: BaseException | None = error
    while cause is not None:
        sqlstate = str(getattr(cause, "sqlstate", "") or "")
        if sqlstate.startswith(_LOST_CONNECTION_SQLSTATES) or (
            isinstance(cause, _DRIVER_CONNECTION_ERRORS)
            and not isinstance(cause, asyncpg.DataError)
        ):
            return True
        cause = cause.orig if isinstance(cause, DBAPIError) else cause.__cause__
    return False


async def _handle_database_error(_request: Request, exc: Exception) -> JSONResponse:
    """Text PostgreSQL cannot store is the request's fault, wherever a field slipped past
    the services' own NUL checks (an event's source, a payload stored as JSON). A lost
    connection is a retryable 503: the statement failed before any commit, so nothing
    was saved. Any other database error stays the server error it is."""
    assert isinstance(exc, DBAPIError)
    if connection_lost(exc):
        return _render(_lost_connection())
    if getattr(exc.orig, "sqlstate", None) not in _NUL_SQLSTATES:
        raise exc
    body = ErrorBody(error="ValidationFailed", detail="text may not contain a NUL character")
    return JSONResponse(body.model_dump(exclude_none=True), status_code=422)


async def _handle_unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    """The last resort, so that no failure is answered as a plain-text 500: a connection
    the driver lost outside a statement (a rollback, a close) is the 503 it is."""
    if connection_lost(exc):
        return _render(_lost_connection())
    body = ErrorBody(error="InternalError", detail="the request failed unexpectedly")
    return JSONResponse(body.model_dump(exclude_none=True), status_code=500)


def _lost_connection() -> ServiceUnavailable:
    return ServiceUnavailable("the connection to the database was lost; nothing was saved, retry")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AssentError, _handle_assent_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(DBAPIError, _handle_database_error)
    app.add_exception_handler(Exception, _handle_unexpected_error)
    amend_openapi(app, _document_validation_errors)


ERROR_BODY_REF = {"$ref": "#/components/schemas/ErrorBody"}


def _document_validation_errors(schema: dict[str, Any]) -> None:
    """FastAPI documents every 422 as its own `HTTPValidationError`; ours is rendered as an
    `ErrorBody` named `ValidationFailed`, so the published schema must say that instead."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.setdefault("ErrorBody", ErrorBody.model_json_schema())
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if (validation := operation.get("responses", {}).get("422")) is not None:
                validation["description"] = "ValidationFailed"
                validation["content"] = {"application/json": {"schema": ERROR_BODY_REF}}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str
    code: str


class InvalidRequest(AssentError):
    """A well-formed request the service refuses (payload shape errors are 422)."""

    status_code = 400

    def __init__(self, detail: str, *, fields: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.fields = list(fields)
