from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from services.kit.errors import (
    Conflict,
    FieldError,
    InvalidRequest,
    NotFound,
    error_responses,
    install_error_handlers,
)


class Quote(BaseModel):
    work_id: int
    seats: int = Field(ge=1)


class Order(BaseModel):
    buyer: str
    quotes: list[Quote]


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/works/{work_id}", responses=error_responses(NotFound))
    async def get_work(work_id: int) -> dict[str, int]:
        raise NotFound(f"no work {work_id}")

    @app.post("/licences", responses=error_responses(Conflict, InvalidRequest))
    async def purchase(order: Order) -> dict[str, str]:
        if order.buyer == "taken":
            raise Conflict("this work is already licensed to you")
        if order.buyer == "odd":
            raise InvalidRequest(
                "the order cannot be priced",
                fields=[
                    FieldError("quotes.0.seats", "seats must be even", "odd_seats"),
                    FieldError("buyer", "buyer is suspended", "suspended"),
                ],
            )
        if order.buyer == "vague":
            raise InvalidRequest("the order is not acceptable")
        return {"status": "ok"}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield client


def _order(buyer: str) -> dict[str, Any]:
    return {"buyer": buyer, "quotes": [{"work_id": 1, "seats": 3}]}


async def test_not_found_renders_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/works/7")

    assert response.status_code == 404
    assert response.json() == {"error": "NotFound", "detail": "no work 7"}


async def test_conflict_renders_409(client: httpx.AsyncClient) -> None:
    response = await client.post("/licences", json=_order("taken"))

    assert response.status_code == 409
    assert response.json() == {
        "error": "Conflict",
        "detail": "this work is already licensed to you",
    }


async def test_invalid_request_renders_400_with_its_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/licences", json=_order("odd"))

    assert response.status_code == 400
    assert response.json() == {
        "error": "InvalidRequest",
        "detail": "the order cannot be priced",
        "fields": [
            {"field": "quotes.0.seats", "message": "seats must be even", "code": "odd_seats"},
            {"field": "buyer", "message": "buyer is suspended", "code": "suspended"},
        ],
    }


async def test_invalid_request_without_fields_has_no_fields_key(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/licences", json=_order("vague"))

    assert response.status_code == 400
    assert response.json() == {"error": "InvalidRequest", "detail": "the order is not acceptable"}


async def test_payload_validation_renders_422_with_field_paths(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/licences", json={"quotes": [{"work_id": 1, "seats": 2}, {"work_id": "x", "seats": 0}]}
    )

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "ValidationFailed"
    assert body["detail"] == "the request is not valid"
    by_field = {field["field"]: field for field in body["fields"]}
    assert set(by_field) == {"body.buyer", "body.quotes.1.work_id", "body.quotes.1.seats"}
    assert by_field["body.buyer"]["code"] == "missing"
    assert by_field["body.quotes.1.seats"]["code"] == "greater_than_equal"
    assert all(field["message"] for field in body["fields"])


async def test_path_parameter_validation_renders_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/works/seven")

    assert response.status_code == 422
    assert [field["field"] for field in response.json()["fields"]] == ["path.work_id"]


async def test_success_is_untouched(client: httpx.AsyncClient) -> None:
    response = await client.post("/licences", json=_order("someone"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_declared_errors_appear_in_the_openapi_document(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()

    responses = document["paths"]["/licences"]["post"]["responses"]
    assert responses["409"]["description"] == "Conflict"
    assert responses["400"]["description"] == "InvalidRequest"
    schema_ref = responses["409"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref.endswith("/ErrorBody")
    error_body = document["components"]["schemas"]["ErrorBody"]
    assert set(error_body["required"]) == {"error", "detail"}
    assert document["paths"]["/works/{work_id}"]["get"]["responses"]["404"]["description"] == (
        "NotFound"
    )


def test_a_status_several_errors_stand_for_names_each_of_them() -> None:
    class QuoteExpired(Conflict):
        pass

    declared = error_responses(NotFound, Conflict, QuoteExpired, InvalidRequest)

    assert {status: response["description"] for status, response in declared.items()} == {
        404: "NotFound",
        409: "Conflict | QuoteExpired",
        400: "InvalidRequest",
    }
