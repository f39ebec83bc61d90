from gateway.config import Settings
from gateway.export_schema import SCHEMA_FILE
from gateway.schema import build_schema
from tests.fixtures.graphql import GraphQLClient


async def test_malformed_graphql_is_a_clear_error(client: GraphQLClient) -> None:
    response = await client.post("{ me { ")

    assert "Syntax Error" in response.json()["errors"][0]["message"]
    assert response.json()["data"] is None


async def test_deep_queries_are_refused() -> None:
    schema = build_schema(Settings(max_query_depth=2))

    result = await schema.execute(
        "{ me { ... on Account { apiKeys { ... on ApiKeyPage { items { name } } } } } }"
    )

    assert result.errors is not None
    assert any(
        e.extensions == {"code": "QUERY_TOO_DEEP", "depth": 3, "limit": 2} for e in result.errors
    )


async def test_many_aliases_are_refused(client: GraphQLClient) -> None:
    aliases = " ".join(f"a{index}: me {{ __typename }}" for index in range(16))

    response = await client.post(f"{{ {aliases} }}")

    assert "aliases found" in response.json()["errors"][0]["message"]


async def test_huge_documents_are_refused(client: GraphQLClient) -> None:
    fields = " ".join("id" for _ in range(3000))

    response = await client.post(f"{{ {fields} }}")

    assert "more than 2000 tokens" in response.json()["errors"][0]["message"]


def test_the_exported_sdl_matches_the_schema() -> None:
    """Run `make schema` after changing the API to refresh gateway/schema.graphql."""
    sdl = build_schema(Settings()).as_str()

    assert SCHEMA_FILE.read_text() == sdl + "\n"


async def test_unexpected_errors_are_masked() -> None:
    schema = build_schema(Settings())

    # Without a request context the resolver fails by accident: the caller must see
    # that something went wrong, never the exception's internals.
    result = await schema.execute("{ me { __typename } }", context_value=None)

    assert result.errors is not None
    assert [error.message for error in result.errors] == ["Unexpected error."]


async def test_oversized_requests_are_refused_unread(client: GraphQLClient) -> None:
    padding = "x" * (2 * 1024 * 1024)

    response = await client.post("{ me { __typename } }", {"padding": padding})

    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLarge"
