"""From the GraphQL inputs to the catalogue's contracts, and the catalogue's refusals back
into what a client can find in its own document."""

import uuid

import pydantic
import strawberry

from gateway.types.catalogue import SearchSort, WorkFilter
from services.contracts import catalogue as contract
from services.kit import errors
from services.kit.field_words import plain_message


def owner_only(error: Exception) -> Exception:
    """A write on another account's work answers as for an unknown work, listed or not:
    the catalogue's 403 for a work the caller can see has no place in these payloads."""
    if isinstance(error, errors.Forbidden):
        return errors.NotFound("no such work")
    return error


def parse_work_id(value: strawberry.ID) -> uuid.UUID:
    """An id that is not a UUID names no work: the same answer as an unknown one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise errors.NotFound("no such work") from None


def work_search(
    wanted: WorkFilter | None, sort: SearchSort | None, first: int, after: str | None
) -> contract.WorkSearch:
    wanted = wanted or WorkFilter()
    try:
        creator_id = uuid.UUID(str(wanted.creator_id)) if wanted.creator_id else None
    except ValueError:
        raise errors.InvalidRequest(
            "the filter is not valid",
            fields=[errors.FieldError("filter.creatorId", "not a valid id", "invalid")],
        ) from None
    return contract.WorkSearch(
        query=wanted.query,
        media_types=list(wanted.media_types),
        uses=list(wanted.uses),
        max_price_minor=wanted.max_price_minor,
        currency=wanted.currency,
        creator_id=creator_id,
        language=wanted.language,
        tags=list(wanted.tags),
        mine=wanted.mine,
        sort=sort,
        first=first,
        after=after,
    )


# The file's fields travel beside the work's in the contract, under `file` in the input.
_FILE_FIELDS = frozenset({"fileName", "size", "sha256"})


def _camel(segment: str) -> str:
    head, *rest = segment.split("_")
    return head + "".join(word.title() for word in rest)


def _input_path(field: str) -> str:
    """A contract's field path (`shares.1.basis_points`) as the GraphQL input names it
    (`shares.1.basisPoints`), which is what a client can find in its own document."""
    segments = [_camel(segment) for segment in field.split(".")]
    if segments[0] in _FILE_FIELDS:
        segments.insert(0, "file")
    return ".".join(segments)


def on_input_paths(error: Exception) -> Exception:
    """Field errors of the contract or of the catalogue, named by their input paths."""
    if isinstance(error, pydantic.ValidationError):
        fields = [
            errors.FieldError(
                path,
                plain_message(detail["type"], path, detail["msg"], detail.get("ctx")),
                detail["type"],
            )
            for detail in error.errors()
            for path in [".".join(str(part) for part in detail["loc"])]
        ]
        error = errors.InvalidRequest("the input is not valid", fields=fields)
    if isinstance(error, errors.InvalidRequest):
        return errors.InvalidRequest(
            error.detail,
            fields=[
                errors.FieldError(_input_path(f.field), f.message, f.code) for f in error.fields
            ],
        )
    return error
