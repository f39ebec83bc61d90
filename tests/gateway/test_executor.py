"""The gateway's executor answers every operation exactly as graphql-core's own does,
data and errors alike, while plain data fields skip graphql-core's per-field steps."""

import asyncio
import enum
import gc
import uuid
import weakref
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import strawberry
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import queries
from strawberry.extensions import FieldExtension, ParserCache
from strawberry.permission import BasePermission
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionResult, Info

from gateway.executor import Executor
from gateway.types.catalogue import Work, WorkConnection
from gateway.types.scalars import SCALARS
from services.catalogue.repository import page_json
from tests.gateway.test_catalogue_types import _work


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class _Denied(BasePermission):
    message = "denied"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return False


class _Louder(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


@strawberry.type
class Leafy:
    name: str
    nickname: str | None
    count: int
    colour: Colour
    maybe_colour: Colour | None
    tags: list[str]
    maybe_tags: list[str | None] | None
    seen_at: datetime
    # Fields without a resolver whose extensions must still run: not plain reads.
    secret: str | None = strawberry.field(default="s3cr3t", permission_classes=[_Denied])
    loud: str = strawberry.field(default="quiet", extensions=[_Louder()])

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    async def later(self) -> str | None:
        await asyncio.sleep(0)
        return self.nickname

    @strawberry.field
    async def fails(self) -> str | None:
        raise ValueError("a nullable field failed")

    @strawberry.field
    def fails_strictly(self) -> str:
        raise ValueError("a non-null field failed")


@strawberry.type
class Node:
    label: str
    leafy: Leafy
    maybe_leafy: Leafy | None
    children: list["Node"]
    maybe_children: list["Node | None"] | None


class _Proxy:
    """Answers for another object, as lazy-object proxies do."""

    def __init__(self, target: object) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class _AwaitedNode:
    """A node's label, but awaitable: graphql-core awaits it, through a proxy too."""

    label = "awaited"

    def __await__(self) -> Any:
        async def node() -> Node:
            return _node("a", 0)

        return node().__await__()


SEEN = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)


def _leafy(number: int, **overrides: Any) -> Leafy:
    values: dict[str, Any] = {
        "name": f"leaf {number}",
        "nickname": None if number % 2 else f"nick {number}",
        "count": number,
        "colour": Colour.RED if number % 2 else Colour.BLUE,
        "maybe_colour": None,
        "tags": [f"t{number}", "shared"],
        "maybe_tags": None if number % 3 else ["x", None],
        "seen_at": SEEN,
    } | overrides
    return Leafy(**values)


def _node(label: str, depth: int, *, broken: bool = False) -> Node:
    children = [_node(f"{label}.{index}", depth - 1) for index in range(2)] if depth else []
    leafy = _leafy(depth)
    maybe_leafy: Leafy | None = _leafy(depth + 10)
    maybe_children: list[Node | None] | None = [*children, None] if depth else None
    if broken:
        # Each value a plain read cannot serve: graphql-core must answer for it.
        leafy = _leafy(depth, name=None, count=2**40, colour="green", tags=["ok", None])
        maybe_leafy = _leafy(depth, count="many", maybe_tags=[ValueError("inside")])
        children = [*children, None]  # type: ignore[list-item]
        maybe_children = [_node(f"{label}.x", 0, broken=False), ValueError("no child")]  # type: ignore[list-item]
    return Node(
        label=label,
        leafy=leafy,
        maybe_leafy=maybe_leafy,
        children=children,
        maybe_children=maybe_children,
    )


@strawberry.type
class Query:
    @strawberry.field
    def node(self) -> Node:
        return _node("n", 2)

    @strawberry.field
    def broken(self) -> Node | None:
        return _node("b", 1, broken=True)

    @strawberry.field
    def nodes(self) -> list[Node]:
        return [_node(f"m{index}", 1) for index in range(3)]

    @strawberry.field
    async def later_node(self) -> Node:
        await asyncio.sleep(0)
        return _node("l", 1)

    @strawberry.field
    def proxied(self) -> Node | None:
        # A plain proxy first, then one whose target is awaitable: each is judged alone.
        node = _node("p", 0)
        node.children = [_Proxy(_node("p.0", 0)), _Proxy(_AwaitedNode())]  # type: ignore[list-item]
        return node


STOCK = strawberry.Schema(query=Query)
# As the gateway's schema: parsed documents are cached, so an operation run again is the
# same nodes, and finds the readers its first run made.
PLANNED = strawberry.Schema(
    query=Query, execution_context_class=Executor, extensions=[lambda: ParserCache(maxsize=100)]
)


async def _execute(
    schema: strawberry.Schema, query: str, variables: dict[str, Any] | None
) -> ExecutionResult:
    result = await schema.execute(query, variable_values=variables)
    # An error that nulls a parent leaves its siblings' resolvers to finish in the
    # background, as they do in a server whose loop runs on; let them, before the loop
    # closes under them.
    current = asyncio.current_task()
    await asyncio.gather(*(task for task in asyncio.all_tasks() if task is not current))
    return result


def _answer(schema: strawberry.Schema, query: str, variables: dict[str, Any] | None) -> Any:
    result = asyncio.run(_execute(schema, query, variables))
    errors = sorted(
        (error.message, str(error.path), str(error.locations)) for error in result.errors or []
    )
    return result.data, errors


def _same_answer(query: str, variables: dict[str, Any] | None = None) -> None:
    stock = _answer(STOCK, query, variables)
    # The first run makes the operation's readers, the second uses them.
    assert _answer(PLANNED, query, variables) == stock
    assert _answer(PLANNED, query, variables) == stock


HAND_WRITTEN = [
    # Plain fields, an alias, the same field twice, __typename.
    "{ node { label __typename leafy { name count colour seenAt tags nickname } } }",
    "{ node { first: label label again: leafy { c: count } leafy { count name } } }",
    # Resolver fields between plain ones, async among them.
    "{ node { leafy { shout later name } children { leafy { later count } } } }",
    # Errors: nullable and non-null resolver failures, with propagation up the tree.
    "{ node { leafy { fails name } } }",
    "{ node { children { leafy { failsStrictly } } } }",
    "{ broken { label } }",
    "{ broken { leafy { name } } }",
    "{ broken { leafy { count colour tags } maybeLeafy { count maybeTags } } }",
    "{ broken { children { label } } }",
    "{ broken { maybeChildren { label leafy { count } } } }",
    "{ node { maybeChildren { label maybeChildren { label } } } }",
    # Fragments, inline and named, on the same objects.
    "{ nodes { ...N children { ... on Node { label leafy { ...L } } } } } "
    "fragment N on Node { label leafy { ...L } } fragment L on Leafy { name colour }",
    "{ laterNode { label children { label leafy { later } } } }",
    # Extensions and permissions on fields without a resolver; proxies.
    "{ node { leafy { secret loud name } children { leafy { loud secret } } } }",
    "{ proxied { label children { label } } }",
]


@pytest.mark.parametrize("query", HAND_WRITTEN)
def test_an_operation_answers_as_graphql_core_would(query: str) -> None:
    _same_answer(query)


@pytest.mark.parametrize(("show", "hide"), [(True, False), (False, True), (True, True)])
def test_included_and_skipped_fields_answer_as_graphql_core_would(show: bool, hide: bool) -> None:
    query = """query($show: Boolean!, $hide: Boolean!) { node {
        label @include(if: $show) leafy @skip(if: $hide) { name }
        children { leafy { count @include(if: $show) colour @skip(if: $hide) } } } }"""
    _same_answer(query, {"show": show, "hide": hide})


def test_an_operation_run_again_with_other_switches_answers_for_them() -> None:
    # No field carries a directive, so the objects are served by readers; which fields
    # the fragments add depends on the variables.
    query = """query($show: Boolean!, $hide: Boolean!) { nodes { label
        children { leafy { count ... @include(if: $show) { name tags } } }
        leafy { ... on Leafy @skip(if: $hide) { colour } seenAt } } }"""
    for show, hide in [(True, False), (False, True), (False, False), (True, True), (True, False)]:
        _same_answer(query, {"show": show, "hide": hide})
        data, errors = _answer(PLANNED, query, {"show": show, "hide": hide})
        assert errors == []
        node = data["nodes"][0]
        assert sorted(node["children"][0]["leafy"]) == (
            ["count", "name", "tags"] if show else ["count"]
        )
        assert sorted(node["leafy"]) == (["seenAt"] if hide else ["colour", "seenAt"])


def test_a_null_switch_fails_where_graphql_core_fails_it() -> None:
    query = """query($show: Boolean = true) {
        node { label maybeLeafy { ... @include(if: $show) { name } } } }"""
    _same_answer(query, {"show": None})
    data, errors = _answer(PLANNED, query, {"show": None})
    assert data == {"node": {"label": "n", "maybeLeafy": None}}
    assert [path for _, path, _ in errors] == ["['node', 'maybeLeafy']"]


def test_a_schema_no_longer_used_is_freed() -> None:
    schema = strawberry.Schema(
        query=Query, execution_context_class=Executor, extensions=[lambda: ParserCache(maxsize=9)]
    )
    for _ in range(2):
        assert _answer(schema, "{ node { label leafy { name } } }", None)[1] == []
    freed = weakref.ref(schema._schema)
    del schema
    gc.collect()
    assert freed() is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=queries(str(STOCK)))
def test_generated_operations_answer_as_graphql_core_would(query: str) -> None:
    _same_answer(query)


class _CountingExecutor(Executor):
    """Counts the fields graphql-core itself had to resolve, and the objects served
    field by field rather than by a reader."""

    resolved: list[str] = []
    stepped = 0

    def build_resolve_info(self, field_def: Any, field_nodes: Any, *args: Any) -> Any:
        type(self).resolved.append(field_nodes[0].name.value)
        return super().build_resolve_info(field_def, field_nodes, *args)

    def execute_fields(self, *args: Any) -> Any:
        type(self).stepped += 1
        return super().execute_fields(*args)


def test_a_page_of_works_is_served_by_plain_reads_and_as_graphql_core_serves_it() -> None:
    page = orjson.loads(page_json([_work(complete=True).model_dump() for _ in range(20)], None))

    @strawberry.type
    class WorksQuery:
        @strawberry.field
        def works(self) -> WorkConnection:
            return WorkConnection(
                items=[Work.from_json(w) for w in page["items"]], next_cursor=None
            )

    search = """{ works { nextCursor items { id title mediaType listed tags createdAt
        currentVersion { size sha256 status } consent { kind uses givenAt }
        offer { price { amountMinor currency } terms { uses durationDays maxModels } }
        shares { creator { id name } basisPoints } } } }"""
    config = StrawberryConfig(scalar_map=SCALARS)
    stock = strawberry.Schema(query=WorksQuery, config=config)
    counting = strawberry.Schema(
        query=WorksQuery,
        config=config,
        execution_context_class=_CountingExecutor,
        extensions=[lambda: ParserCache(maxsize=10)],
    )
    for _ in range(2):
        _CountingExecutor.resolved, _CountingExecutor.stepped = [], 0
        planned = asyncio.run(counting.execute(search))
        assert planned.errors is None
        assert planned.data is not None
        assert planned.data == asyncio.run(stock.execute(search)).data
        assert len(planned.data["works"]["items"]) == 20
        assert planned.data["works"]["items"][0]["shares"][0]["creator"]["id"] == str(
            uuid.UUID(page["items"][0]["shares"][0]["creator_id"])
        )
        # Only the root field, which has a resolver, went through graphql-core's steps;
        # only the query and the connection were served field by field, the 20 works
        # and everything in them by readers.
        assert _CountingExecutor.resolved == ["works"]
        assert _CountingExecutor.stepped == 2
