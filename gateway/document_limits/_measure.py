"""Depth, aliases and static cost of each operation of a document, in one walk."""

from dataclasses import dataclass

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    get_named_type,
    get_nullable_type,
    is_list_type,
)

from ._weights import UNWEIGHTED, FieldWeights

MAX_PAGE_SIZE = 100
# Keeps the arithmetic on small integers: anything this costly is refused all the same.
_COST_CEILING = 2**53 - 1


@dataclass(frozen=True)
class Measure:
    depth: int
    aliases: int
    cost: int
    # The part of `cost` spent on fields that await.
    calls: int

    def __add__(self, other: "Measure") -> "Measure":
        return Measure(
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            min(self.cost + other.cost, _COST_CEILING),
            min(self.calls + other.calls, _COST_CEILING),
        )


_NOTHING = Measure(0, 0, 0, 0)


class DocumentMeasurer:
    """Depth, aliases and static cost of each operation, in one walk: every fragment is
    measured once (per page size it is spread under) and its measure reused wherever it
    is spread, so the work grows with the document, never with its expansion.

    Depth leaves introspection fields out, as GraphiQL's schema query is deep. Cost is
    one per field, plus the call weight of a field that awaits (`_weights`), and a list
    multiplies what is under it: by the page size of the field above it (its `first`
    argument, else that argument's default, at most MAX_PAGE_SIZE; a variable counts as
    the maximum, as its value is unknown when the verdict is cached), else by the bound
    the field declares (`list_bound`), else by UNPAGED_LIST_SIZE. A list that neither
    pages nor awaits came whole in its parent's answer (a licence's lines), which paid
    for its fields: it multiplies only the calls under it. Aliases are counted as
    spread, so a fragment spread twice counts its aliases twice."""

    def __init__(self, context: ValidationContext, weights: FieldWeights) -> None:
        self.schema = context.schema
        self.weights = weights
        self.fragments = {
            definition.name.value: definition
            for definition in context.document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self._measured: dict[tuple[str, int | None], Measure | None] = {}

    def operation(self, operation: OperationDefinitionNode) -> Measure:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return _NOTHING
        return self._selections(operation.selection_set, root, None)

    def _selections(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, page: int | None
    ) -> Measure:
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

    def _fragment(self, name: str, page: int | None) -> Measure:
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

    def _field(self, node: FieldNode, parent: GraphQLNamedType | None, page: int | None) -> Measure:
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
        if parent is not None and field is not None:
            weighed = self.weights.get((parent.name, name), UNWEIGHTED)
            weight = weighed.call
            if is_list_type(get_nullable_type(field.type)):
                items = page if page is not None else weighed.list_items
                listed = items * inner.cost
                if page is None and weight == 0:
                    listed = inner.cost - inner.calls + items * inner.calls
        depth = 0
        if node.selection_set is not None and not name.startswith("__"):
            depth = inner.depth + 1
        cost = min(1 + weight + listed, _COST_CEILING)
        calls = min(weight + items * inner.calls, _COST_CEILING)
        return Measure(depth, (1 if node.alias else 0) + inner.aliases, cost, calls)


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
