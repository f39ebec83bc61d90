"""Licensing and delivery through the gateway, before any service is reached: who is
refused, and how a service that does not answer is reported."""

import pytest

from services.contracts.signing import WELL_KNOWN_KEYS_PATH
from tests.fixtures.graphql import GraphQLClient

QUOTE_ID = "00000000-0000-4000-8000-000000000001"

OPERATIONS = {
    "purchase": f"""mutation {{ purchase(quoteId: "{QUOTE_ID}", idempotencyKey: "k1") {{
        __typename }} }}""",
    "quoteBundle": f"""mutation {{ quoteBundle(bundleId: "{QUOTE_ID}") {{ __typename }} }}""",
    "createBundle": """mutation { createBundle(input: {name: "b", uses: [TRAINING],
        workIds: []}) { __typename } }""",
    "refundLicence": f"""mutation {{ refundLicence(licenceId: "{QUOTE_ID}", reason: "r") {{
        __typename }} }}""",
    "traceManifest": """mutation { traceManifest(manifest: "{}") { __typename } }""",
    "traceFile": """mutation { traceFile(contentBase64: "AA==") { __typename } }""",
    "licence": f"""{{ licence(id: "{QUOTE_ID}") {{ __typename }} }}""",
    "licences": """{ licences { __typename } }""",
    "quote": f"""{{ quote(id: "{QUOTE_ID}") {{ __typename }} }}""",
    "bundle": f"""{{ bundle(id: "{QUOTE_ID}") {{ __typename }} }}""",
    "delivery": f"""{{ delivery(id: "{QUOTE_ID}") {{ __typename }} }}""",
    "earnings": """{ earnings { __typename } }""",
    "balances": """{ balances { __typename } }""",
    "ledgerCheck": """{ ledgerCheck { __typename } }""",
}


@pytest.mark.parametrize("field", sorted(OPERATIONS))
async def test_without_a_key_every_operation_is_unauthenticated(
    client: GraphQLClient, field: str
) -> None:
    data = await client.execute(OPERATIONS[field])
    assert data[field]["__typename"] == "Unauthenticated"


@pytest.mark.parametrize("field", sorted(set(OPERATIONS) - {"createBundle"}))
async def test_a_service_that_does_not_answer_is_a_typed_failure(
    client: GraphQLClient, admin_key: str, field: str
) -> None:
    data = await client.execute(OPERATIONS[field], key=admin_key)
    assert data[field]["__typename"] == "ServiceUnavailable"


async def test_ids_that_are_not_ids_name_nothing(client: GraphQLClient, admin_key: str) -> None:
    query = """{ licence(id: "nope") { __typename } delivery(id: "../x") { __typename }
      quote(id: "1") { __typename } }"""
    data = await client.execute(query, key=admin_key)
    assert {value["__typename"] for value in data.values()} == {"NotFound"}


async def test_a_bad_purchase_is_refused_before_any_service_is_called(
    client: GraphQLClient, admin_key: str
) -> None:
    query = f"""mutation {{ purchase(quoteId: "{QUOTE_ID}", idempotencyKey: "") {{
        __typename ... on ValidationFailed {{ fields {{ field code }} }} }} }}"""
    data = await client.execute(query, key=admin_key)
    assert data["purchase"]["__typename"] == "ValidationFailed"
    assert [f["field"] for f in data["purchase"]["fields"]] == ["idempotencyKey"]


async def test_a_download_link_needs_a_key(client: GraphQLClient) -> None:
    response = await client.http.get(f"/downloads/{QUOTE_ID}/{'a' * 32}")
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthenticated"


async def test_a_download_link_with_a_malformed_path_is_not_found(
    client: GraphQLClient, admin_key: str
) -> None:
    auth = {"authorization": f"Bearer {admin_key}"}
    response = await client.http.get(f"/downloads/not-a-uuid/{'a' * 32}", headers=auth)
    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"
    for fingerprint in ("a%2F..%2Fb", "a.b", "x" * 65):
        response = await client.http.get(f"/downloads/{QUOTE_ID}/{fingerprint}", headers=auth)
        assert response.status_code == 404, fingerprint


async def test_a_download_link_reports_an_unavailable_delivery_service(
    client: GraphQLClient, admin_key: str
) -> None:
    auth = {"authorization": f"Bearer {admin_key}"}
    response = await client.http.get(f"/downloads/{QUOTE_ID}/{'a' * 32}", headers=auth)
    assert response.status_code == 503
    assert response.json()["error"] == "ServiceUnavailable"


async def test_published_keys_report_an_unavailable_service(client: GraphQLClient) -> None:
    response = await client.http.get(WELL_KNOWN_KEYS_PATH)
    assert response.status_code == 503
