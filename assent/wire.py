"""The client's GraphQL calls to the gateway: one answer's field, or its failure raised as
the exception of its name, sent again when that is safe (see `assent.client`)."""

import random
import time
from collections.abc import Iterator
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from assent.errors import (
    AssentError,
    Conflict,
    FieldError,
    Forbidden,
    InsufficientFunds,
    ModelsCapReached,
    NotFound,
    QuoteExpired,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
    UnexpectedResponse,
    ValidationFailed,
)

# A wait asked by the gateway beyond this is not slept through: the caller hears of it.
MAX_RETRY_AFTER = 60.0

_FAILURES: dict[str, type[AssentError]] = {
    "NotFound": NotFound,
    "Forbidden": Forbidden,
    "Unauthenticated": Unauthenticated,
    "QuoteExpired": QuoteExpired,
    "InsufficientFunds": InsufficientFunds,
    "ModelsCapReached": ModelsCapReached,
}

M = TypeVar("M", bound=BaseModel)


class _Retry(Exception):
    def __init__(self, failure: AssentError, wait: float | None = None) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.wait = wait


def _failure(node: dict[str, Any]) -> AssentError:
    typename = str(node.get("__typename"))
    message = str(node.get("message") or typename)
    if typename == "ValidationFailed":
        fields = [FieldError(**field) for field in node.get("fields") or []]
        return ValidationFailed(message, fields)
    if typename == "Conflict":
        return Conflict(message, str(node.get("code")))
    if typename == "ServiceUnavailable":
        return ServiceUnavailable(message, str(node.get("service")))
    if typename in _FAILURES:
        return _FAILURES[typename](message)
    return UnexpectedResponse(f"{typename}: {message}")


def _retry_after(response: httpx.Response, errors: list[dict[str, Any]]) -> float:
    for error in errors:
        extensions = error.get("extensions") or {}
        if extensions.get("code") == "RateLimited" and "retryAfter" in extensions:
            return float(extensions["retryAfter"])
    try:
        return float(response.headers.get("retry-after", 1))
    except ValueError:
        return 1.0


def _error_list(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [error for error in errors or [] if isinstance(error, dict)]


class GraphQLWire:
    """The gateway's `/graphql`, over the client's connection pool, tried up to `attempts`
    times."""

    def __init__(self, http: httpx.Client, gateway_url: str, attempts: int) -> None:
        self._http = http
        self._url = gateway_url + "/graphql"
        self._attempts = attempts

    def pages(
        self,
        document: str,
        variables: dict[str, Any],
        field: str,
        typename: str,
        model: type[M],
    ) -> Iterator[M]:
        after: str | None = None
        while True:
            page = self.ask(document, {**variables, "after": after}, field, typename, retry=True)
            for item in page["items"]:
                yield model.model_validate(item)
            after = page.get("nextCursor")
            if not after:
                return

    def ask(
        self, document: str, variables: dict[str, Any], field: str, typename: str, *, retry: bool
    ) -> dict[str, Any]:
        """The `field` of the answer when it is a `typename`; its failure raised otherwise.
        `retry`: the operation may safely be sent again after it reached the gateway."""
        for attempt in range(1, self._attempts + 1):
            try:
                return self._once(document, variables, field, typename, retry=retry)
            except _Retry as again:
                if attempt == self._attempts:
                    raise again.failure from again
                time.sleep(again.wait if again.wait is not None else self._backoff(attempt))
        raise AssertionError("unreachable")

    @staticmethod
    def _backoff(attempt: int) -> float:
        # Full jitter: retries of many clients after one outage do not arrive together.
        return random.uniform(0, min(0.25 * 2**attempt, 5.0))

    def _once(
        self, document: str, variables: dict[str, Any], field: str, typename: str, *, retry: bool
    ) -> dict[str, Any]:
        url = self._url
        try:
            response = self._http.post(url, json={"query": document, "variables": variables})
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Never sent: safe to send again whatever the operation.
            raise _Retry(ServiceUnavailable(f"cannot reach {url}: {exc}", "gateway")) from exc
        except httpx.TransportError as exc:
            failure = ServiceUnavailable(f"{url}: {exc!r}", "gateway")
            if retry:
                raise _Retry(failure) from exc
            raise failure from exc
        errors = _error_list(response)
        if response.status_code == 429:
            wait = _retry_after(response, errors)
            limited = RateLimited(f"rate limited; retry after {wait:g} s", wait)
            if wait > MAX_RETRY_AFTER:
                raise limited
            raise _Retry(limited, wait)
        if response.status_code == 401:
            messages = "; ".join(str(error.get("message")) for error in errors)
            raise Unauthenticated(messages or "the API key was refused")
        if response.status_code >= 500:
            failure = ServiceUnavailable(f"{url} answered {response.status_code}", "gateway")
            if retry:
                raise _Retry(failure)
            raise failure
        if errors:
            messages = "; ".join(str(error.get("message")) for error in errors)
            raise UnexpectedResponse(f"{field}: {messages}")
        try:
            node = response.json()["data"][field]
        except (ValueError, KeyError, TypeError) as exc:
            raise UnexpectedResponse(
                f"{url} answered {response.status_code} without {field}"
            ) from exc
        found = node.get("__typename")
        if found == typename:
            result: dict[str, Any] = node
            return result
        refusal = _failure(node)
        if retry and isinstance(refusal, ServiceUnavailable):
            raise _Retry(refusal)
        raise refusal
