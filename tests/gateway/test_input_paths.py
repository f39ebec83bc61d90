"""A refused input names the field as the client's own document names it."""

import uuid

import pytest

from tests.fixtures.graphql import GraphQLClient

MONEY_MUTATIONS = {
    "topUp": "buyerId",
    "recordPayout": "creatorId",
}


@pytest.mark.parametrize(("mutation", "owner"), sorted(MONEY_MUTATIONS.items()))
async def test_a_refused_amount_is_named_by_its_graphql_argument(
    client: GraphQLClient, admin_key: str, mutation: str, owner: str
) -> None:
    query = f"""mutation {{ {mutation}({owner}: "{uuid.uuid4()}", amountMinor: 0,
        currency: "EUR", reference: "bank transfer 7") {{ __typename
        ... on ValidationFailed {{ fields {{ field code }} }} }} }}"""
    data = await client.execute(query, key=admin_key)
    assert data[mutation]["__typename"] == "ValidationFailed"
    assert [f["field"] for f in data[mutation]["fields"]] == ["amountMinor"]
