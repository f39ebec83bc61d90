"""The admins' review queue refuses what the gateway alone can tell, typed: no key, and a
catalogue that does not answer. What it holds is asserted with every service running
(tests/e2e/test_stack_tenancy.py)."""

from tests.fixtures.graphql import GraphQLClient

QUEUE = """query($first: Int!) { reviewQueue(first: $first) { __typename
  ... on ServiceUnavailable { service }
  ... on ReviewQueue { items { reason work { id } matches { kind score work { id } } } } } }"""


async def test_without_a_key_the_queue_is_unauthenticated(client: GraphQLClient) -> None:
    answer = await client.execute(QUEUE, {"first": 20})

    assert answer["reviewQueue"] == {"__typename": "Unauthenticated"}


async def test_a_catalogue_that_does_not_answer_is_service_unavailable(
    client: GraphQLClient, admin_key: str
) -> None:
    # A page size beyond the bound is clamped, not refused: the catalogue is still asked.
    answer = await client.execute(QUEUE, {"first": 10_000}, key=admin_key)

    assert answer["reviewQueue"] == {"__typename": "ServiceUnavailable", "service": "catalogue"}
