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

import dataclasses
import math
import time
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
    # Fields graphql-core's merging check may compare, as `_merge_work` bounds them: 400
    # copies of `me { __typename }` (2 x 400**2) took 0.6 s of CPU.
    max_merge_work: int = 5_000


MAX_PAGE_SIZE = 100
# A list that takes no page size and declares no bound (roles, shares, entries): short in
# practice, but not free, so each counts as this many items.
UNPAGED_LIST_SIZE = 5
# The metadata key of a list field's largest length, where it is more than that.
MAX_ITEMS = "max_items"
# A field whose resolver awaits (a service call, a DataLoader, the gateway's database).
SERVICE_CALL_WEIGHT = 20
# Keeps the arithmetic on small integers: anything this costly is refused all the same.
_COST_CEILING = 2**53 - 1


@dataclass(frozen=True)
class _Measure:
    depth: int
    aliases: int
    cost: int
    # The part of `cost` spent on fields that await.
    calls: int

    def __add__(self, other: "_Measure") -> "_Measure":
        return _Measure(
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            min(self.cost + other.cost, _COST_CEILING),
            min(self.calls + other.calls, _COST_CEILING),
        )


_NOTHING = _Measure(0, 0, 0, 0)


def list_bound(items: int) -> dict[str, int]:
    """A list field's metadata declaring how many items it holds at most."""
    return {MAX_ITEMS: items}


class _DocumentMeasurer:
    """Depth, aliases and static cost of each operation, in one walk: every fragment is
    measured once (per page size it is spread under) and its measure reused wherever it
    is spread, so the work grows with the document, never with its expansion.

    Depth leaves introspection fields out, as GraphiQL's schema query is deep. Cost is
    one per field, plus SERVICE_CALL_WEIGHT for a field that awaits, and a list
    multiplies what is under it: by the page size of the field above it (its `first`
    argument, else that argument's default, at most MAX_PAGE_SIZE; a variable counts as
    the maximum, as its value is unknown when the verdict is cached), else by the bound
    the field declares (`list_bound`), else by UNPAGED_LIST_SIZE. A list that neither
    pages nor awaits came whole in its parent's answer (a licence's lines), which paid
    for its fields: it multiplies only the calls under it. Aliases are counted as
    spread, so a fragment spread twice counts its aliases twice."""

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
        items, weight, listed = 1, 0, inner.cost
        if field is not None:
            weight = _weight(field)
            if is_list_type(get_nullable_type(field.type)):
                items = page if page is not None else _list_bound(field)
                listed = items * inner.cost
                if page is None and weight == 0:
                    listed = inner.cost - inner.calls + items * inner.calls
        depth = 0
        if node.selection_set is not None and not name.startswith("__"):
            depth = inner.depth + 1
        cost = min(1 + weight + listed, _COST_CEILING)
        calls = min(weight + items * inner.calls, _COST_CEILING)
        return _Measure(depth, (1 if node.alias else 0) + inner.aliases, cost, calls)


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


def _list_bound(field: GraphQLField) -> int:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if isinstance(definition, StrawberryField):
        bound = definition.metadata.get(MAX_ITEMS)
        if isinstance(bound, int):
            return bound
    return UNPAGED_LIST_SIZE


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
        them pairwise, fragments expanded. It runs only when `_merge_work` bounds those
        comparisons within `max_merge_work`; otherwise the document is refused."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.merging: OverlappingFieldsCanBeMergedRule | None = None
            if _merge_work(context.document, limits.max_merge_work) is not None:
                self.merging = OverlappingFieldsCanBeMergedRule(context)
            else:
                context.report_error(
                    DocumentRefused(
                        "fields of one name repeat too often once fragments are spread "
                        f"(more than {limits.max_merge_work} comparisons)",
                        "QUERY_TOO_REPETITIVE",
                        limit=limits.max_merge_work,
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


@dataclass
class _Branch:
    """The fields of one response name at one place, fragments expanded: how many, and
    what their selections hold together, by response name."""

    count: int = 0
    inner: dict[str, "_Branch"] = dataclasses.field(default_factory=dict)


class _OverBudget(Exception):
    pass


class _MergeWork:
    """Each operation's and fragment's selections merged by response name (types aside),
    each fragment expanded once and copied where it is spread. Copying is charged a unit
    per branch, and the walk stops once the units pass the budget, so the work is linear
    in the document up to the budget."""

    def __init__(self, document: DocumentNode, budget: int) -> None:
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.budget = budget
        self.spent = 0
        self._expanded: dict[str, dict[str, _Branch] | None] = {}

    def merged(self, selection_set: SelectionSetNode) -> dict[str, _Branch]:
        merged: dict[str, _Branch] = {}
        self._add_selections(merged, selection_set)
        return merged

    def fragment(self, name: str) -> dict[str, _Branch] | None:
        if name in self._expanded:
            # None: being expanded, so a cycle, which NoFragmentCyclesRule reports.
            return self._expanded[name]
        definition = self.fragments.get(name)
        if definition is None:
            return None
        self._expanded[name] = None
        expanded = self.merged(definition.selection_set)
        self._expanded[name] = expanded
        return expanded

    def _add_selections(self, into: dict[str, _Branch], selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                branch = self._branch(into, (selection.alias or selection.name).value, 1)
                if selection.selection_set is not None:
                    self._add_selections(branch.inner, selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                self._add_selections(into, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                expanded = self.fragment(selection.name.value)
                if expanded is not None:
                    self._add_expanded(into, expanded)

    def _add_expanded(self, into: dict[str, _Branch], expanded: dict[str, _Branch]) -> None:
        for name, branch in expanded.items():
            self._add_expanded(self._branch(into, name, branch.count).inner, branch.inner)

    def _branch(self, into: dict[str, _Branch], name: str, count: int) -> _Branch:
        self.spent += 1
        if self.spent > self.budget:
            raise _OverBudget
        branch = into.setdefault(name, _Branch())
        branch.count += count
        return branch


def _comparisons(merged: dict[str, _Branch]) -> int:
    """At most how many field pairs merging `merged` compares: at each place, the square
    of the fields of each name (a field is compared to itself in the count, which keeps
    the sum above the branches copied)."""
    return sum(branch.count**2 + _comparisons(branch.inner) for branch in merged.values())


def _merge_work(document: DocumentNode, budget: int) -> int | None:
    """An upper bound on the field comparisons graphql-core's merging check makes, for
    every operation and fragment; None when over `budget` (found within it)."""
    work = _MergeWork(document, budget)
    total = 0
    try:
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                merged = work.merged(definition.selection_set)
            elif isinstance(definition, FragmentDefinitionNode):
                merged = work.fragment(definition.name.value) or {}
            else:
                continue
            total += _comparisons(merged)
            if total > budget:
                return None
    except _OverBudget:
        return None
    return total
