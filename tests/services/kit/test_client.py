import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.contracts.roles import Role
from services.kit.client import HttpxTransport, ServiceClient, query_pairs
from services.kit.errors import ServiceUnavailable, install_error_handlers
from services.kit.internal_token import CurrentCaller
from services.kit.logging import REQUEST_ID_HEADER, RequestContextMiddleware
from tests.fixtures.internal_keys import signer, verifier

CATALOGUE_URL = "http://catalogue.internal"


def _catalogue() -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = verifier("catalogue", "gateway")
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)

    @app.get("/v1/whoami")
    async def whoami(caller: CurrentCaller, request: Request) -> dict[str, Any]:
        return {
            "subject": caller.subject,
            "roles": sorted(caller.roles),
            "issuer": caller.issuer,
            "request_id": request.headers.get(REQUEST_ID_HEADER),
        }

    @app.get("/v1/maintenance")
    async def maintenance(caller: CurrentCaller) -> JSONResponse:
        return JSONResponse({"status": "down for maintenance"}, status_code=503)

    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_catalogue())) as client:
        yield client


@pytest.fixture
def no_request_context() -> Iterator[None]:
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()


def _client(http: httpx.AsyncClient, name: str = "catalogue") -> ServiceClient:
    return ServiceClient(
        name,
        CATALOGUE_URL + "/",
        signer=signer("gateway"),
        http=HttpxTransport(http),
    )


async def test_call_carries_the_caller_to_the_service(
    http: httpx.AsyncClient, no_request_context: None
) -> None:
    response = await _client(http).request(
        "GET", "/v1/whoami", subject="account:42", roles=frozenset({Role.BUYER})
    )

    assert response.status_code == 200
    assert response.json() == {
        "subject": "account:42",
        "roles": ["buyer"],
        "issuer": "gateway",
        "request_id": None,
    }


async def test_call_forwards_the_current_request_id(
    http: httpx.AsyncClient, no_request_context: None
) -> None:
    structlog.contextvars.bind_contextvars(request_id="gw-trace-77")

    response = await _client(http).request(
        "GET", "/v1/whoami", subject="account:42", roles=frozenset()
    )

    assert response.json()["request_id"] == "gw-trace-77"
    assert response.headers[REQUEST_ID_HEADER] == "gw-trace-77"


async def test_token_for_one_service_does_not_open_another(
    http: httpx.AsyncClient, no_request_context: None
) -> None:
    # A client named for licensing signs for licensing, whatever address it is given.
    response = await _client(http, name="licensing").request(
        "GET", "/v1/whoami", subject="account:42", roles=frozenset({Role.ADMIN})
    )

    assert response.status_code == 401
    assert response.json()["detail"] == "the internal token is for another service"


async def test_service_answering_503_is_unavailable(
    http: httpx.AsyncClient, no_request_context: None
) -> None:
    with pytest.raises(ServiceUnavailable, match="the catalogue service is unavailable"):
        await _client(http).request("GET", "/v1/maintenance", subject="s", roles=frozenset())


async def test_other_answers_are_returned_as_they_are(
    http: httpx.AsyncClient, no_request_context: None
) -> None:
    response = await _client(http).request("GET", "/v1/nothing", subject="s", roles=frozenset())

    assert response.status_code == 404


async def test_service_that_does_not_answer_is_unavailable(no_request_context: None) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient(timeout=2.0) as http:
        client = ServiceClient(
            "catalogue",
            f"http://127.0.0.1:{port}",
            signer=signer("gateway"),
            http=HttpxTransport(http),
        )

        with pytest.raises(ServiceUnavailable, match="the catalogue service did not answer"):
            await client.request("GET", "/v1/whoami", subject="s", roles=frozenset())


def test_query_parameters_are_written_as_httpx_wrote_them() -> None:
    assert query_pairs({"first": 20, "after": None, "ids": ["a", "b"], "all": True}) == [
        ("first", "20"),
        ("after", ""),
        ("ids", "a"),
        ("ids", "b"),
        ("all", "true"),
    ]
    assert query_pairs([("id", "a"), ("size", 3)]) == [("id", "a"), ("size", "3")]
