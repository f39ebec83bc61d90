"""What a caller may spend: a rate of requests, and what one GraphQL document may cost.

Rate limits: a token bucket per API key, and per client address for requests that
present no valid key. GraphQL and download links spend tokens; health checks and the
published keys do not.

The buckets live in this process. A bucket in PostgreSQL would add a round trip and a
row update to every request, and a busy key's row would serialise its requests (a hot
row updated by every writer halved purchase throughput at 32 clients). The price: with
several gateway replicas each holds its own buckets, so one key may reach the limit on
every replica at once. Divide the setting by the replica count, or route each key to one
replica, where that matters.

Document limits: validation rules that refuse an operation too deep, with too many
aliases or too costly (see `_DocumentMeasurer`) before it runs, each in time linear in
the document, however its fragments spread.
"""

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    BREAK,
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VisitorAction,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.validation import OverlappingFieldsCanBeMergedRule
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from services.kit import errors


class RateLimited(errors.AssentError):
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests; retry after {retry_after} s")
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after)}


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        *,
        per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        # A bucket left alone this long is full again, the same as no bucket at all: the
        # sweep forgets it, so idle keys and one-off addresses hold no memory.
        self._refill_seconds = burst / per_second
        self._swept = clock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, name: str) -> None:
        """Spend one token of the bucket `name`, or raise RateLimited with the whole
        seconds until one is back. No await inside: one event loop needs no lock."""
        now = self._clock()
        self._sweep(now)
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket(tokens=float(self.burst), updated=now)
        else:
            elapsed = now - bucket.updated
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_second)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        raise RateLimited(max(1, math.ceil((1 - bucket.tokens) / self.per_second)))

    def _sweep(self, now: float) -> None:
        if now - self._swept < self._refill_seconds:
            return
        self._swept = now
        self._buckets = {
            name: bucket
            for name, bucket in self._buckets.items()
            if now - bucket.updated < self._refill_seconds
        }


# --- Limits on a GraphQL document, checked before it runs ---------------------------


class DocumentRefused(GraphQLError):
    """A document refused for its shape, with a code a client can act on."""

    def __init__(self, message: str, code: str, **details: int) -> None:
        super().__init__(message, extensions={"code": code, **details})


@dataclass(frozen=True)
class DocumentLimits:
    max_depth: int
    max_aliases: int
    max_cost: int
    max_same_name_fields: int = 20
    max_fragment_spreads: int = 20


MAX_PAGE_SIZE = 100
# A list that takes no page size (roles, lines, shares, entries): short in practice, but
# not free, so each counts as this many items.
UNPAGED_LIST_SIZE = 5
# A field whose resolver awaits (a service call, a DataLoader, the gateway's database).
SERVICE_CALL_WEIGHT = 20
# Keeps the arithmetic on small integers: anything this costly is refused all the same.
_COST_CEILING = 2**53 - 1


@dataclass(frozen=True)
class _Measure:
    depth: int
    aliases: int
    cost: int

    def __add__(self, other: "_Measure") -> "_Measure":
        return _Measure(
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            min(self.cost + other.cost, _COST_CEILING),
        )


_NOTHING = _Measure(0, 0, 0)


class _DocumentMeasurer:
    """Depth, aliases and static cost of each operation, in one walk: every fragment is
    measured once (per page size it is spread under) and its measure reused wherever it
    is spread, so the work grows with the document, never with its expansion.

    Depth leaves introspection fields out, as GraphiQL's schema query is deep. Cost is
    one per field, plus SERVICE_CALL_WEIGHT for a field that awaits, and a list
    multiplies what is under it: by the page size of the field above it (its `first`
    argument, else that argument's default, at most MAX_PAGE_SIZE; a variable counts as
    the maximum, as its value is unknown when the verdict is cached), or by
    UNPAGED_LIST_SIZE. Aliases are counted as spread, so a fragment spread twice counts
    its aliases twice."""

    def __init__(self, context: ValidationContext) -> None:
        self.schema = context.schema
        self.fragments = {
            definition.name.value: definition
            for definition in context.document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self._measured: dict[tuple[str, int | None], _Measure | None] = {}

    def operation(self, operation: OperationDefinitionNode) -> _Measure:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return _NOTHING
        return self._selections(operation.selection_set, root, None)

    def _selections(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, page: int | None
    ) -> _Measure:
        total = _NOTHING
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self._selections(selection.selection_set, inner, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value, page)
        return total

    def _fragment(self, name: str, page: int | None) -> _Measure:
        key = (name, page)
        if key in self._measured:
            # None: this fragment is being measured, so the spread is a cycle, which
            # graphql-core's NoFragmentCyclesRule reports.
            return self._measured[key] or _NOTHING
        definition = self.fragments.get(name)
        if definition is None:
            return _NOTHING
        self._measured[key] = None
        condition = self.schema.get_type(definition.type_condition.name.value)
        measure = self._selections(definition.selection_set, condition, page)
        self._measured[key] = measure
        return measure

    def _field(
        self, node: FieldNode, parent: GraphQLNamedType | None, page: int | None
    ) -> _Measure:
        name = node.name.value
        # Unknown fields are FieldsOnCorrectTypeRule's to report; meta fields
        # (__typename, __schema, __type) are not in `fields`, and call nothing.
        field = _field_of(parent, name)
        inner = _NOTHING
        if node.selection_set is not None:
            if field is None:
                inner = self._selections(node.selection_set, None, None)
            else:
                inner_type = get_named_type(field.type)
                inner = self._selections(node.selection_set, inner_type, _page_size(node, field))
        items, weight = 1, 0
        if field is not None:
            weight = _weight(field)
            if is_list_type(get_nullable_type(field.type)):
                items = page if page is not None else UNPAGED_LIST_SIZE
        depth = 0
        if node.selection_set is not None and not name.startswith("__"):
            depth = inner.depth + 1
        cost = min(1 + weight + items * inner.cost, _COST_CEILING)
        return _Measure(depth, (1 if node.alias else 0) + inner.aliases, cost)


def _field_of(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        field: GraphQLField | None = parent.fields.get(name)
        return field
    return None


def _page_size(node: FieldNode, field: GraphQLField) -> int | None:
    """The page size a field asks for, or None when it takes no `first` argument."""
    argument = field.args.get("first")
    if argument is None:
        return None
    given = next((arg.value for arg in node.arguments or () if arg.name.value == "first"), None)
    if isinstance(given, IntValueNode):
        return max(0, min(int(given.value), MAX_PAGE_SIZE))
    if given is None and isinstance(argument.default_value, int):
        return max(0, min(argument.default_value, MAX_PAGE_SIZE))
    return MAX_PAGE_SIZE


def _weight(field: GraphQLField) -> int:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if isinstance(definition, StrawberryField) and definition.is_async:
        return SERVICE_CALL_WEIGHT
    return 0


def document_limit_rules(limits: DocumentLimits) -> list[type[ASTValidationRule]]:
    """The rules that bound what one document may cost. Built once per schema: the
    validation cache keys on the rule classes."""

    class OperationLimits(ValidationRule):
        """Depth, aliases and static cost of every operation; refused before it runs."""

        def enter_document(self, node: DocumentNode, *_args: object) -> VisitorAction:
            measurer = _DocumentMeasurer(self.context)
            for definition in node.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    self._check(definition, measurer.operation(definition))
            return BREAK

        def _check(self, operation: OperationDefinitionNode, measure: _Measure) -> None:
            name = operation.name.value if operation.name else "anonymous"
            if measure.depth > limits.max_depth:
                self.report_error(
                    DocumentRefused(
                        f"'{name}' exceeds maximum operation depth of {limits.max_depth}",
                        "QUERY_TOO_DEEP",
                        depth=measure.depth,
                        limit=limits.max_depth,
                    )
                )
            if measure.aliases > limits.max_aliases:
                self.report_error(
                    DocumentRefused(
                        f"{measure.aliases} aliases found. Allowed: {limits.max_aliases}",
                        "TOO_MANY_ALIASES",
                        aliases=measure.aliases,
                        limit=limits.max_aliases,
                    )
                )
            if measure.cost > limits.max_cost:
                self.report_error(
                    DocumentRefused(
                        f"'{name}' costs {measure.cost}, more than the limit of "
                        f"{limits.max_cost}; ask for smaller pages or fewer fields",
                        "QUERY_TOO_COSTLY",
                        cost=measure.cost,
                        limit=limits.max_cost,
                    )
                )

    class BoundedFieldMerging(ValidationRule):
        """graphql-core's check that fields sharing a response name can merge compares
        them pairwise: 400 copies of `me { __typename }` took 0.6 s of CPU. It runs only
        when no selection set holds more than `max_same_name_fields` fields of one name
        or spreads more than `max_fragment_spreads` fragments, which bounds the pairs."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.merging: OverlappingFieldsCanBeMergedRule | None = None
            if _merging_is_bounded(context.document, limits):
                self.merging = OverlappingFieldsCanBeMergedRule(context)
            else:
                context.report_error(
                    DocumentRefused(
                        f"a selection holds more than {limits.max_same_name_fields} fields "
                        f"of one name or more than {limits.max_fragment_spreads} fragments",
                        "QUERY_TOO_REPETITIVE",
                    )
                )

        def enter_selection_set(
            self, selection_set: SelectionSetNode, key: Any, parent: Any, *args: Any
        ) -> VisitorAction:
            if self.merging is None:
                return BREAK
            self.merging.enter_selection_set(selection_set, key, parent, *args)
            return None

    return [OperationLimits, BoundedFieldMerging]


def _merging_is_bounded(document: DocumentNode, limits: DocumentLimits) -> bool:
    """Each selection set with its inline fragments flattened into it, as graphql-core
    gathers them; an inline fragment's own selection set is not counted again."""
    pending: list[SelectionSetNode] = [
        definition.selection_set
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while pending:
        names: Counter[str] = Counter()
        spreads: set[str] = set()
        flattening = [pending.pop()]
        while flattening:
            for selection in flattening.pop().selections:
                if isinstance(selection, FieldNode):
                    names[(selection.alias or selection.name).value] += 1
                    if selection.selection_set is not None:
                        pending.append(selection.selection_set)
                elif isinstance(selection, InlineFragmentNode):
                    flattening.append(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    spreads.add(selection.name.value)
        if len(spreads) > limits.max_fragment_spreads:
            return False
        if names and max(names.values()) > limits.max_same_name_fields:
            return False
    return True
