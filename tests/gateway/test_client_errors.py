"""How a client's mistakes are answered and logged: at INFO, short, without the values
sent (emails among them), and without naming the schema when introspection is off."""

import logging

import pytest

from gateway.config import Settings
from gateway.schema import build_schema
from tests.fixtures.graphql import GraphQLClient

REGISTER = """mutation($input: RegisterInput!) { register(input: $input) { __typename } }"""


async def test_a_refused_request_is_logged_at_info_without_its_values(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    # A long document, a variable that does not coerce, and an email in it.
    padding = " ".join(f"# {index:04d} padding the document to some length" for index in range(60))
    email = "bob.secret@example.org"
    variables = {"input": {"name": "Bob", "email": [email], "role": email}}

    caplog.set_level(logging.INFO)
    response = await client.post(f"{REGISTER}\n{padding}", variables)

    assert len(response.json()["errors"]) == 2
    logged = [record for record in caplog.records if record.name == "gateway.schema"]
    assert [record.levelname for record in logged] == ["INFO", "INFO"]
    for record in logged:
        line = record.getMessage()
        assert "graphql.request_refused" in line
        assert "bob.secret" not in line
        assert "example.org" not in line
        assert "padding" not in line
        assert len(line) < 600


async def test_suggestions_are_hidden_when_introspection_is_off() -> None:
    document = "{ mee { __typename } }"

    shown = await build_schema(Settings()).execute(document)
    hidden = await build_schema(Settings(introspection=False)).execute(document)

    assert shown.errors is not None
    assert "Did you mean 'me'?" in shown.errors[0].message
    assert hidden.errors is not None
    assert [error.message for error in hidden.errors] == [
        "Cannot query field 'mee' on type 'Query'."
    ]


async def test_a_mistyped_enum_value_names_no_other_when_introspection_is_off() -> None:
    variables = {"input": {"name": "Bob", "email": "bob@example.org", "role": "BUYR"}}

    result = await build_schema(Settings(introspection=False)).execute(REGISTER, variables)

    assert result.errors is not None
    assert "does not exist in 'AccountRole' enum" in result.errors[0].message
    assert "BUYER" not in result.errors[0].message
    assert "Did you mean" not in result.errors[0].message
