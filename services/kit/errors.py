"""Domain errors and the one handler that renders them as `{"error", "detail"}`."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel


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


def error_responses(*errors: type[AssentError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry an endpoint declares for the domain errors it can raise."""
    return {
        error.status_code: {"model": ErrorBody, "description": error.__name__} for error in errors
    }


def _render(error: AssentError) -> JSONResponse:
    fields = (
        [asdict(field) for field in error.fields] if isinstance(error, InvalidRequest) else None
    )
    body = ErrorBody(error=error.name, detail=error.detail, fields=fields or None)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=error.status_code)


async def _handle_assent_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AssentError)
    return _render(exc)


async def _handle_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {
            "field": ".".join(str(part) for part in err["loc"]),
            "message": err["msg"],
            "code": err["type"],
        }
        for err in exc.errors()
    ]
    body = ErrorBody(error="ValidationFailed", detail="the request is not valid", fields=fields)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AssentError, _handle_assent_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)


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
