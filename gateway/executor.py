"""GraphQL execution with a short path for plain data fields.

graphql-core spends about 4 µs on every field of every object: it builds a resolve-info
tuple, wraps the resolver, then dispatches on the field's type step by step. A page of 20
works is some 300 fields, so this was the largest share of the gateway's CPU on a search
(1.3 ms of 3.4). Most of those fields are strawberry's basic fields: an attribute read,
with no resolver, no arguments and no extension.

For a basic field this executor reads the attribute and coerces a scalar or enum itself,
and takes an object, or a list of objects, straight to its sub-selection. Every other
field goes through graphql-core, and so does any basic field whose value is not plainly
valid (a null where none is allowed, a value its type refuses, an exception): reading an
attribute has no effect, so graphql-core reads it again and answers, or locates the
error, exactly as it always would. `tests/gateway/test_executor.py` runs generated
queries through both and compares the answers.
"""

import functools
import operator
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# How a planned field is executed.
_GENERAL = 0  # by graphql-core
_LEAF = 1  # a scalar or an enum
_LEAF_LIST = 2  # a list of them
_OBJECT = 3  # an object type: straight to its sub-selection
_OBJECT_LIST = 4  # a list of objects

# A basic field's value that needs graphql-core's own handling.
_UNPLAIN = object()
# Values that are neither errors nor awaitables, told apart at the cost of one isinstance.
_NEVER_AWAITED = (str, int, float)


class _Step(NamedTuple):
    kind: int
    response_name: str
    field_details: FieldDetailsList
    return_type: GraphQLOutputType
    # A basic field's read of its attribute.
    read: Callable[[Any], Any] | None
    nullable: bool
    # A leaf's coercion, or the object type of an object field.
    inner: Any
    item_type: GraphQLOutputType | None
    item_nullable: bool


def _is_basic(resolve: Any) -> bool:
    # strawberry marks the resolver it gives a field with no resolver and no extensions.
    return bool(getattr(resolve, "_is_default", False))


def _unwrap(type_: GraphQLOutputType) -> tuple[GraphQLOutputType, bool]:
    """The type inside a non-null wrapper, and whether null is allowed."""
    if is_non_null_type(type_):
        assert isinstance(type_, GraphQLNonNull)
        inner: GraphQLOutputType = type_.of_type
        return inner, False
    return type_, True


class Executor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Plans by grouped field set: graphql-core collects an object type's sub-selection
        # once per operation and hands the same set for every object of a list. The set
        # is kept with its plan, so its id cannot be reused while the entry lives.
        self._plans: dict[int, tuple[GroupedFieldSet, tuple[_Step, ...] | None]] = {}
        # Looked up once an operation: a weak dictionary makes a weak reference per lookup.
        self._ways = _field_ways.setdefault(self.schema, {})

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        plan = self._plan(parent_type, grouped_field_set)
        if plan is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for step in plan:
                kind, name, _, _, read, nullable, coerce, _, _ = step
                if kind == _LEAF:
                    # The commonest field, inline: a call costs as much as the read.
                    value = _UNPLAIN
                    try:
                        raw = read(source_value)  # type: ignore[misc]
                        if raw is None:
                            if nullable:
                                value = None
                        elif isinstance(raw, _NEVER_AWAITED) or self._plain(raw):
                            coerced = coerce(raw)
                            if coerced is not None and coerced is not Undefined:
                                value = coerced
                    except Exception:
                        value = _UNPLAIN
                elif kind == _LEAF_LIST:
                    value = self._leaf_list(step, source_value)
                elif kind == _OBJECT:
                    value = self._object(step, source_value, path, parent_type, position_context)
                elif kind == _OBJECT_LIST:
                    value = self._object_list(
                        step, source_value, path, parent_type, position_context
                    )
                else:
                    value = _UNPLAIN
                if value is _UNPLAIN:
                    value = self.execute_field(
                        parent_type,
                        source_value,
                        step.field_details,
                        Path(path, name, parent_type.name),
                        position_context,
                    )
                    if value is Undefined:
                        continue
                elif kind <= _LEAF_LIST:
                    results[name] = value
                    continue
                results[name] = value
                if is_awaitable(value):
                    awaitable_fields.append(name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._gather_fields(results, awaitable_fields)

    # --- the short paths: each answers _UNPLAIN, before any effect, to hand over ---

    def _leaf_list(self, step: _Step, source: Any) -> Any:
        try:
            values = step.read(source)  # type: ignore[misc]
            if values is None:
                return None if step.nullable else _UNPLAIN
            if not isinstance(values, list | tuple):
                return _UNPLAIN
            coerce, item_nullable = step.inner, step.item_nullable
            completed: list[Any] = []
            for value in values:
                if value is None:
                    if not item_nullable:
                        return _UNPLAIN
                    completed.append(None)
                    continue
                if not isinstance(value, _NEVER_AWAITED) and not self._plain(value):
                    return _UNPLAIN
                coerced = coerce(value)
                if coerced is None or coerced is Undefined:
                    return _UNPLAIN
                completed.append(coerced)
        except Exception:
            return _UNPLAIN
        return completed

    def _object(
        self,
        step: _Step,
        source: Any,
        path: Path | None,
        parent_type: GraphQLObjectType,
        position_context: Any,
    ) -> Any:
        try:
            value = step.read(source)  # type: ignore[misc]
        except Exception:
            return _UNPLAIN
        if value is None or not self._plain(value):
            return _UNPLAIN
        field_path = Path(path, step.response_name, parent_type.name)
        # From here as graphql-core's execute_field and complete_object_value would go.
        try:
            completed = self._subfields(step, field_path, value, position_context)
        except Exception as raw_error:
            self.handle_field_error(raw_error, step.return_type, step.field_details, field_path)
            return None
        if self.is_awaitable(completed):
            return self._guarded(completed, step.return_type, step.field_details, field_path)
        return completed

    def _object_list(
        self,
        step: _Step,
        source: Any,
        path: Path | None,
        parent_type: GraphQLObjectType,
        position_context: Any,
    ) -> Any:
        try:
            values = step.read(source)  # type: ignore[misc]
        except Exception:
            return _UNPLAIN
        if not isinstance(values, list | tuple):
            return _UNPLAIN
        for value in values:
            if value is None or not self._plain(value):
                return _UNPLAIN
        assert step.item_type is not None
        field_path = Path(path, step.response_name, parent_type.name)
        is_awaitable = self.is_awaitable
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        # From here as graphql-core's complete_iterable_value and complete_list_item_value.
        try:
            for index, value in enumerate(values):
                item_path = field_path.add_key(index, None)
                try:
                    item = self._subfields(step, item_path, value, position_context)
                    if is_awaitable(item):
                        item = self._guarded(item, step.item_type, step.field_details, item_path)
                        awaitable_indices.append(index)
                except Exception as raw_error:
                    self.handle_field_error(
                        raw_error, step.item_type, step.field_details, item_path
                    )
                    item = None
                completed.append(item)
        except Exception as raw_error:
            if awaitable_indices:
                self.settle_in_background([completed[index] for index in awaitable_indices])
            self.handle_field_error(raw_error, step.return_type, step.field_details, field_path)
            return None
        if not awaitable_indices:
            return completed
        return self._guarded(
            self._gather_items(completed, awaitable_indices),
            step.return_type,
            step.field_details,
            field_path,
        )

    def _subfields(self, step: _Step, path: Path, value: Any, position_context: Any) -> Any:
        """An object's sub-selection, as graphql-core's collect_and_execute_subfields goes
        when nothing is deferred, less two calls."""
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            step.inner, step.field_details
        )
        if new_defer_usages or position_context is not None:
            return self.collect_and_execute_subfields(
                step.inner, step.field_details, path, value, position_context
            )
        return self.execute_fields(step.inner, value, path, grouped_field_set, None)

    def _plain(self, value: Any) -> bool:
        """Neither an error nor something to await, which graphql-core handles itself."""
        return not isinstance(value, Exception) and not self.is_awaitable(value)

    async def _guarded(
        self,
        awaitable: Awaitable[Any],
        return_type: GraphQLOutputType,
        field_details: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await awaitable
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details, path)
            return None

    @staticmethod
    async def _gather_fields(results: dict[str, Any], names: list[str]) -> dict[str, Any]:
        if len(names) == 1:
            results[names[0]] = await results[names[0]]
        else:
            awaited = await gather_with_cancel(*(results[name] for name in names))
            results.update(zip(names, awaited, strict=True))
        return results

    @staticmethod
    async def _gather_items(items: list[Any], indices: Sequence[int]) -> list[Any]:
        if len(indices) == 1:
            items[indices[0]] = await items[indices[0]]
        else:
            awaited = await gather_with_cancel(*(items[index] for index in indices))
            for index, value in zip(indices, awaited, strict=True):
                items[index] = value
        return items

    # --- planning ---

    def _plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> tuple[_Step, ...] | None:
        """The steps for one object type's selection, or None where no field would take
        a short path (or where middleware must see every field)."""
        cached = self._plans.get(id(grouped_field_set))
        if cached is not None:
            return cached[1]
        plan: tuple[_Step, ...] | None = None
        if not (self.middleware_manager and self.middleware_manager.middlewares):
            steps = tuple(
                self._step(parent_type, name, details)
                for name, details in grouped_field_set.items()
            )
            if any(step.kind != _GENERAL for step in steps):
                plan = steps
        self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return plan

    def _step(self, parent_type: GraphQLObjectType, name: str, details: FieldDetailsList) -> _Step:
        field_name = details[0].node.name.value
        way = self._ways.get((parent_type.name, field_name))
        if way is None:
            way = self._ways[parent_type.name, field_name] = _way(
                self.schema.get_field(parent_type, field_name), parent_type
            )
        if way.kind != _GENERAL and any(
            detail.node.arguments
            or detail.node.directives  # @stream among them
            or detail.fragment_variable_values is not None
            for detail in details
        ):
            return _Step(_GENERAL, name, details, way.return_type, None, True, None, None, True)
        return _Step(way.kind, name, details, *way[1:])


class _Way(NamedTuple):
    """How a field of a type is executed, whatever the operation: `_Step` less the name
    and field nodes."""

    kind: int
    return_type: GraphQLOutputType
    read: Callable[[Any], Any] | None
    nullable: bool
    inner: Any
    item_type: GraphQLOutputType | None
    item_nullable: bool


# Per schema (weakly, for tests that make many), by type and field name.
_field_ways: weakref.WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], _Way]] = (
    weakref.WeakKeyDictionary()
)


def _way(field_def: GraphQLField | None, parent_type: GraphQLObjectType) -> _Way:
    general = _Way(_GENERAL, parent_type, None, True, None, None, True)
    if field_def is None or not _is_basic(field_def.resolve) or field_def.args:
        return general
    return_type = field_def.type
    inner, nullable = _unwrap(return_type)
    assert field_def.resolve is not None
    read: Callable[[Any], Any] = functools.partial(field_def.resolve, info=None)
    definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if isinstance(definition, StrawberryField) and definition.default_resolver is getattr:
        read = operator.attrgetter(definition.python_name)
    if is_leaf_type(inner):
        assert isinstance(inner, GraphQLLeafType)
        return _Way(_LEAF, return_type, read, nullable, inner.coerce_output_value, None, True)
    if is_object_type(inner):
        assert isinstance(inner, GraphQLObjectType)
        if inner.is_type_of is not None:
            return general
        return _Way(_OBJECT, return_type, read, nullable, inner, None, True)
    if not is_list_type(inner):
        return general
    assert isinstance(inner, GraphQLList)
    item_type: GraphQLOutputType = inner.of_type
    item, item_nullable = _unwrap(item_type)
    if is_leaf_type(item):
        assert isinstance(item, GraphQLLeafType)
        return _Way(
            _LEAF_LIST, return_type, read, nullable,
            item.coerce_output_value, item_type, item_nullable,
        )  # fmt: skip
    if is_object_type(item):
        assert isinstance(item, GraphQLObjectType)
        if item.is_type_of is not None:
            return general
        return _Way(_OBJECT_LIST, return_type, read, nullable, item, item_type, item_nullable)
    return general
