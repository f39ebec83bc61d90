"""Expected failures as GraphQL types: union members of each payload, never bare errors."""

import strawberry

from services.kit import errors


@strawberry.interface
class Error:
    message: str


@strawberry.type
class FieldError:
    field: str
    message: str
    code: str


@strawberry.type
class ValidationFailed(Error):
    fields: list[FieldError]

    @classmethod
    def of(cls, error: errors.InvalidRequest) -> "ValidationFailed":
        return cls(
            message=error.detail,
            fields=[
                FieldError(field=f.field, message=f.message, code=f.code) for f in error.fields
            ],
        )


@strawberry.type
class Unauthenticated(Error):
    @classmethod
    def of(cls, error: errors.Unauthenticated) -> "Unauthenticated":
        return cls(message=error.detail)


@strawberry.type
class Forbidden(Error):
    @classmethod
    def of(cls, error: errors.Forbidden) -> "Forbidden":
        return cls(message=error.detail)


@strawberry.type
class NotFound(Error):
    @classmethod
    def of(cls, error: errors.NotFound) -> "NotFound":
        return cls(message=error.detail)


@strawberry.type
class ServiceUnavailable(Error):
    service: str
