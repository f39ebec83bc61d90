"""The static cost of a query: refused before it runs when over the budget, with the
cost and the limit; what the SDK and the portal send stays under it."""

import re
from pathlib import Path
from typing import Any

import pytest
from graphql import get_introspection_query

from assent.client import DOCUMENTS
from gateway.config import Settings
from gateway.schema import build_schema
from tests.fixtures.graphql import GraphQLClient

PORTAL_QUERIES = Path(__file__).parents[2] / "gateway" / "portal" / "static" / "queries.js"
LICENCES_WITH_FILES = """l{index}: licences(first: 100) {{ ... on LicenceConnection {{ items {{
  certificate delivery {{ manifest files(first: 100) {{ items {{ path sha256 size }} }} }} }} }} }}"""


def portal_documents() -> dict[str, str]:
    """The operations the portal exports, with the constants they interpolate."""
    constants: dict[str, str] = {}
    exported: dict[str, str] = {}
    pattern = re.compile(r'(export )?const (\w+) = (`[^`]*`|"[^"]*");', re.S)
    for match in pattern.finditer(PORTAL_QUERIES.read_text()):
        text = re.sub(r"\$\{(\w+)\}", lambda name: constants[name[1]], match[3][1:-1])
        constants[match[2]] = text
        if match[1] and re.match(r"\s*(query|mutation)\b", text):
            exported[match[2]] = text
    return exported


LIMIT_CODES = {"QUERY_TOO_COSTLY", "QUERY_TOO_DEEP", "TOO_MANY_ALIASES", "QUERY_TOO_REPETITIVE"}


async def refusals(document: str, settings: Settings) -> list[dict[str, Any]]:
    """What the document limits say of `document` under `settings`."""
    result = await build_schema(settings).execute(document)
    found = [error.extensions or {} for error in result.errors or []]
    return [dict(extensions) for extensions in found if extensions.get("code") in LIMIT_CODES]


async def test_the_issues_licences_query_is_refused_naming_cost_and_limit(
    client: GraphQLClient,
) -> None:
    aliases = " ".join(LICENCES_WITH_FILES.format(index=index) for index in range(15))

    response = await client.post(f"query {{ {aliases} }}")

    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["limit"] == 25_000
    assert error["extensions"]["cost"] > 25_000
    assert str(error["extensions"]["cost"]) in error["message"]


async def test_one_page_of_licences_with_all_their_files_is_refused(client: GraphQLClient) -> None:
    response = await client.post(f"query {{ {LICENCES_WITH_FILES.format(index=0)} }}")

    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_a_page_of_bundles_with_all_their_works_is_refused_naming_cost_and_limit() -> None:
    # A bundle holds up to 1,000 works, each fetched from the catalogue.
    document = """{ bundles(first: 100) { ... on BundleConnection { items {
      works { id title shares { creator { name } } offer { price { amountMinor } } } } } } }"""

    result = await build_schema(Settings()).execute(document)

    [error] = result.errors or []
    assert error.extensions is not None
    assert error.extensions["code"] == "QUERY_TOO_COSTLY"
    assert error.extensions["limit"] == 25_000
    assert error.extensions["cost"] > 100 * 1_000
    assert f"costs {error.extensions['cost']}" in error.message


async def test_a_licences_lines_multiply_only_the_calls_under_them() -> None:
    # The lines come inside the licence's answer: their fields are paid for once, and
    # the bound (1,000 lines) would multiply only calls made per line.
    document = "{ licences(first: 1) { ... on LicenceConnection { items { lines { title } } } } }"

    [refusal] = await refusals(document, Settings(max_query_cost=1))

    assert refusal["cost"] == 1 + 20 + 1 + 1 * (1 + 1)


async def test_the_cost_multiplies_page_sizes_and_service_calls() -> None:
    # licences: 1 + 20 (it calls licensing); items: 1, three times (first: 3) what each
    # licence costs: id 1, certificate 1 + 20.
    document = "{ licences(first: 3) { ... on LicenceConnection { items { id certificate } } } }"

    refused = await refusals(document, Settings(max_query_cost=87))
    accepted = await refusals(document, Settings(max_query_cost=88))

    assert refused == [{"code": "QUERY_TOO_COSTLY", "cost": 88, "limit": 87}]
    assert accepted == []


async def test_a_page_size_given_by_a_variable_counts_as_the_largest_page() -> None:
    literal = "{ licences(first: 3) { ... on LicenceConnection { items { id } } } }"
    variable = (
        "query($n: Int!) { licences(first: $n) { ... on LicenceConnection { items { id } } } }"
    )

    [by_literal] = await refusals(literal, Settings(max_query_cost=1))
    [by_variable] = await refusals(variable, Settings(max_query_cost=1))

    assert by_literal["cost"] == 1 + 20 + 1 + 3
    assert by_variable["cost"] == 1 + 20 + 1 + 100


async def test_a_fragment_costs_as_often_as_it_is_spread() -> None:
    once = "{ ...F } fragment F on Query { me { __typename } }"
    twice = "{ ...G } fragment G on Query { ...F ...F } fragment F on Query { me { __typename } }"

    [spread_once] = await refusals(once, Settings(max_query_cost=1))
    [spread_twice] = await refusals(twice, Settings(max_query_cost=1))

    assert spread_twice["cost"] == 2 * spread_once["cost"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda document: document.split()[1])
async def test_what_the_sdk_sends_is_within_every_limit(document: str) -> None:
    assert await refusals(document, Settings()) == []


@pytest.mark.parametrize("name", sorted(portal_documents()))
async def test_what_the_portal_sends_is_within_every_limit(name: str) -> None:
    assert await refusals(portal_documents()[name], Settings()) == []


def test_the_portal_documents_are_found() -> None:
    assert {"ME", "MY_WORKS", "WORK", "CREATE_WORK"} <= set(portal_documents())


async def test_graphiqls_schema_query_is_within_every_limit() -> None:
    result = await build_schema(Settings()).execute(get_introspection_query(descriptions=True))

    assert result.errors is None
