"""Schemathesis against the gateway's GraphQL schema: generated queries and mutations
with real API keys, the services behind the gateway in process. No 5xx, and no error
other than the expected ones: a masked "Unexpected error." is a failure."""

import asyncio

from graphql import build_schema

from tests.fuzz.runner import FUZZ_CASES, GraphQLTarget, fuzz_graphql

EXAMPLES_PER_FIELD = 30
MINIMUM_CASES_PER_FIELD = 20


async def test_graphql_schema(graphql_target: GraphQLTarget) -> None:
    outcome = await asyncio.to_thread(
        fuzz_graphql, graphql_target, asyncio.get_running_loop(), examples=EXAMPLES_PER_FIELD
    )
    FUZZ_CASES["graphql gateway"] += outcome.total
    assert not outcome.failures, "\n\n".join(outcome.failures)
    schema = build_schema(graphql_target.sdl)
    assert schema.query_type is not None
    assert schema.mutation_type is not None
    fields = len(schema.query_type.fields) + len(schema.mutation_type.fields)
    # Every query and mutation ran, most far more than once.
    assert len(outcome.cases) == fields
    assert outcome.total >= MINIMUM_CASES_PER_FIELD * fields
