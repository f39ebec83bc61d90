"""Expected failures as GraphQL types: union members of each payload, never bare errors."""

from typing import Any

import pydantic
import strawberry
from graphql import GraphQLError

from gateway.clients.errors import graphql_field
from services.kit import errors
from services.kit.field_words import plain_message


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


# Any resolver may be refused these: the caller's key was refused, or a service (the
# gateway's own database included) did not answer. The union members, and the same as a
# tuple for `failure`.
Refusals = Unauthenticated | ServiceUnavailable
REFUSALS = (Unauthenticated, ServiceUnavailable)


def unavailable_in_place(error: errors.ServiceUnavailable) -> GraphQLError:
    """What a field of an answer raises when the service behind it did not answer in time.

    The field is nullable: it answers null, with this error at its path, typed by its
    extensions (`code: SERVICE_UNAVAILABLE`, `type: ServiceUnavailable`, the service), and
    the rest of the answer stands. A union member in its place would say the same, but
    would break every client document that selects the field directly (the SDK's
    `delivery { id ... }`, the download client's `manifest`).
    """
    return GraphQLError(
        error.detail,
        extensions={
            "code": "SERVICE_UNAVAILABLE",
            "type": ServiceUnavailable.__name__,
            "service": error.service,
        },
    )


@strawberry.type
class Conflict(Error):
    """The request clashes with the object's state; `code` names the rule."""

    code: str


@strawberry.type
class ConsentRequired(Error):
    """An offer needs the creator's current opt-in consent first."""


@strawberry.type
class QuoteExpired(Error):
    """The quote's price lock has run out: ask for a new quote."""


@strawberry.type
class InsufficientFunds(Error):
    """The prepaid balance does not cover the total; nothing was charged."""


@strawberry.type
class ModelsCapReached(Error):
    """A work's terms allow it in at most so many models, all trained: the training run
    was refused, and the refusal logged."""


# Conflicts that callers handle on their own get their own union member.
_CONFLICT_MEMBERS: dict[str, type] = {
    "ConsentRequired": ConsentRequired,
    "QuoteExpired": QuoteExpired,
    "InsufficientFunds": InsufficientFunds,
    "ModelsCapReached": ModelsCapReached,
}


def _validation_failed(error: pydantic.ValidationError) -> ValidationFailed:
    return ValidationFailed(
        message="the input is not valid",
        fields=[
            FieldError(
                # Named as the GraphQL input names it (`amountMinor`), not as the contract.
                field=graphql_field(".".join(str(part) for part in detail["loc"])),
                message=plain_message(
                    detail["type"],
                    ".".join(str(part) for part in detail["loc"]),
                    detail["msg"],
                    detail.get("ctx"),
                ),
                code=detail["type"],
            )
            for detail in error.errors()
        ],
    )


def failure(error: Exception, *allowed: type) -> Any:
    """The GraphQL union member for an expected failure; anything else is re-raised, so
    it reaches the error mask as the unexpected error it is."""
    member: Any
    if isinstance(error, pydantic.ValidationError):
        member = _validation_failed(error)
    elif isinstance(error, errors.InvalidRequest):
        member = ValidationFailed.of(error)
    elif isinstance(error, errors.Unauthenticated):
        member = Unauthenticated.of(error)
    elif isinstance(error, errors.Forbidden):
        member = Forbidden.of(error)
    elif isinstance(error, errors.NotFound):
        member = NotFound.of(error)
    elif isinstance(error, errors.ServiceUnavailable):
        member = ServiceUnavailable(message=error.detail, service=error.service)
    elif isinstance(error, errors.Conflict) and error.code in _CONFLICT_MEMBERS:
        member = _CONFLICT_MEMBERS[error.code](message=error.detail)
    elif isinstance(error, errors.Conflict):
        member = Conflict(message=error.detail, code=error.code)
    else:
        raise error
    if type(member) not in allowed:
        raise error
    return member
