"""A service's REST error, turned back into the domain error it was raised as."""

import re

from services.kit import errors
from services.kit.client import ServiceResponse

_CAMEL_BOUNDARY = re.compile(r"_([a-z0-9])")


def graphql_field(location: str) -> str:
    """`body.terms.uses.0` -> `terms.uses.0`, `price_minor` -> `priceMinor`."""
    parts = location.split(".")
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    return ".".join(_CAMEL_BOUNDARY.sub(lambda m: m.group(1).upper(), part) for part in parts)


def raise_for_error(service: str, response: ServiceResponse) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
        name, detail = str(body["error"]), str(body["detail"])
    except (ValueError, KeyError, TypeError):
        raise errors.ServiceUnavailable(
            f"the {service} service answered {response.status_code}", service=service
        ) from None
    status = response.status_code
    if status in (400, 422):
        fields = [
            errors.FieldError(graphql_field(f["field"]), f["message"], f["code"])
            for f in body.get("fields") or []
        ]
        raise errors.InvalidRequest(detail, fields=fields)
    known: dict[int, type[errors.AssentError]] = {
        401: errors.Unauthenticated,
        403: errors.Forbidden,
        404: errors.NotFound,
        409: errors.Conflict,
        410: errors.Gone,
    }
    if status in known:
        error = known[status](detail)
        error.code = name
        raise error
    raise errors.ServiceUnavailable(f"the {service} service failed ({status})", service=service)
