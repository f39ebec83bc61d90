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

Where every field of an object's sub-selection, and of theirs, is basic (or
`__typename`), the sub-selection is served by a reader: a closure a field, called object
by object with no path, no plan lookup and no dispatch. An object that a reader cannot
serve plainly is served again, from the start, by the steps above. Readers are made on
an operation's first run and kept for its later runs (`Executor._operation_readers`):
planning a
page of works cost more than serving it.
"""

import contextlib
import functools
import operator
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from types import GeneratorType
from typing import Any, NamedTuple, cast

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    TypeNode,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
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
# A reader answers an object's fields as a dict, or _UNPLAIN.
Reader = Callable[[Any], Any]


class _NoExactType:
    """The `exact` type of a leaf whose every value its coercion must see."""


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
    # A leaf's (or its items') type whose values coercion returns unchanged.
    exact: type
    # A leaf field's reader.
    serve: Reader | None


def _is_basic(field_def: GraphQLField) -> bool:
    """An attribute read: strawberry marks the resolver it gives a field that has none,
    but runs the field's extensions (permission classes among them) around it."""
    definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if isinstance(definition, StrawberryField) and not definition.is_basic_field:
        return False
    return bool(getattr(field_def.resolve, "_is_default", False)) and not field_def.args


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
        self._plain = _plain_check(self.is_awaitable)
        # This operation's readers, found on first use (`_reader_at`).
        self._readers: dict[tuple[str, ...], Reader | None] | None = None
        self._ways, self._operations = _schema_caches(self.schema)

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
                kind, name = step.kind, step.response_name
                if kind in (_LEAF, _LEAF_LIST):
                    try:
                        value = step.serve(source_value)  # type: ignore[misc]
                    except Exception:
                        value = _UNPLAIN
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
        reader = self._reader_at(step, path, parent_type) if position_context is None else None
        if reader is not None:
            served = reader(value)
            if served is not _UNPLAIN:
                return served
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
        reader = self._reader_at(step, path, parent_type) if position_context is None else None
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        # From here as graphql-core's complete_iterable_value and complete_list_item_value.
        try:
            for index, value in enumerate(values):
                if reader is not None:
                    served = reader(value)
                    if served is not _UNPLAIN:
                        completed.append(served)
                        continue
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

    # --- readers: a closure a field, kept for every execution of the same operation ---

    def _operation_readers(self) -> dict[tuple[str, ...], Reader | None]:
        """The readers of this operation by place, shared by every execution of it with
        the same Boolean variables: the only values that can change its sub-selections
        (through @include, @skip and @defer) once it is parsed. The parser cache hands the
        same nodes for the same document, and the entry keeps the operation, so its id
        cannot be reused while the entry lives."""
        operation = self.operation
        switches = tuple(
            self.variable_values.coerced.get(definition.variable.name.value)
            for definition in operation.variable_definitions or ()
            if _is_boolean(definition.type)
        )
        key = (id(operation), self.is_awaitable, switches)
        entry = self._operations.get(key)
        if entry is None:
            entry = self._operations[key] = (operation, {})
            if len(self._operations) > KEPT_OPERATIONS:
                self._operations.popitem(last=False)
        else:
            with contextlib.suppress(KeyError):  # gone since, in another thread
                self._operations.move_to_end(key)
        return entry[1]

    def _reader_at(
        self, step: _Step, path: Path | None, parent_type: GraphQLObjectType
    ) -> Reader | None:
        """The reader of an object field's sub-selection at this place of the operation,
        if every field in it, and in theirs, has one."""
        if self._readers is None:
            self._readers = self._operation_readers()
        place = (step.response_name, parent_type.name, *_place(path))
        if place in self._readers:
            return self._readers[place]
        try:
            reader = self._subselection_reader(step)
        except Exception:
            # Collecting a sub-selection can fail (a null @include condition): the
            # field-by-field path meets the same error where graphql-core locates it.
            reader = None
        self._readers[place] = reader
        return reader

    def _subselection_reader(self, step: _Step) -> Reader | None:
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            step.inner, step.field_details
        )
        if new_defer_usages:
            return None
        plan = self._plan(step.inner, grouped_field_set)
        if plan is None:
            return None
        fields: list[tuple[str, Reader]] = []
        for field_step in plan:
            field_reader = self._field_reader(step.inner, field_step)
            if field_reader is None:
                return None
            fields.append((field_step.response_name, field_reader))
        return _object_reader(tuple(fields))

    def _field_reader(self, parent_type: GraphQLObjectType, step: _Step) -> Reader | None:
        if step.kind in (_LEAF, _LEAF_LIST):
            return step.serve
        if step.kind == _GENERAL:
            return _typename_reader(parent_type, step)
        serve = self._subselection_reader(step)
        if serve is None:
            return None
        assert step.read is not None
        item = _object_value_reader(serve, self._plain)
        if step.kind == _OBJECT:
            return _single_field(step.read, step.nullable, _NoExactType, item)
        return _list_field(step.read, step.nullable, False, item)

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
        if way.kind != _GENERAL and not _undirected(details):
            return _Step(
                _GENERAL, name, details, way.return_type, None, True, None, None, True,
                _NoExactType, None,
            )  # fmt: skip
        serve: Reader | None = None
        if way.kind in (_LEAF, _LEAF_LIST):
            assert way.read is not None
            item = _leaf_value_reader(way.inner, way.exact, self._plain)
            if way.kind == _LEAF:
                serve = _single_field(way.read, way.nullable, way.exact, item)
            else:
                serve = _list_field(way.read, way.nullable, way.item_nullable, item)
        return _Step(way.kind, name, details, *way[1:], serve)


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
    exact: type


def _plain_check(is_awaitable: Callable[[Any], Any]) -> Callable[[Any], bool]:
    """Neither an error nor something to await, which graphql-core handles itself.

    One check for each way of telling awaitables (strawberry always passes the same)."""
    check = _plain_checks.get(is_awaitable)
    if check is None:
        plain_types: set[type] = set()

        def plain(value: Any) -> bool:
            kind = type(value)
            if kind in plain_types:
                return True
            found = not isinstance(value, Exception) and not is_awaitable(value)
            # Whether a value can be awaited or is an error is its type's matter, except
            # for a generator (awaitable when its code is marked as a coroutine) and for
            # a value that answers for another (a proxy's __class__ or __getattr__).
            if found and _answers_for_itself(value, kind):
                if len(plain_types) >= REMEMBERED_PLAIN_TYPES:
                    plain_types.clear()
                plain_types.add(kind)
            return found

        check = _plain_checks[is_awaitable] = plain
    return check


_plain_checks: dict[Callable[[Any], Any], Callable[[Any], bool]] = {}
# Types made at run time (a model a request) would otherwise accumulate.
REMEMBERED_PLAIN_TYPES = 1024


def _answers_for_itself(value: Any, kind: type) -> bool:
    return (
        kind is not GeneratorType
        and value.__class__ is kind
        and kind.__getattribute__ is object.__getattribute__
        and not hasattr(kind, "__getattr__")
    )


# Without a parser cache each request is a new operation: the entries are then of no use
# and hold their documents until pushed out.
KEPT_OPERATIONS = 512
OperationReaders = OrderedDict[
    tuple[Any, ...], tuple[OperationDefinitionNode, dict[tuple[str, ...], Reader | None]]
]
_CACHES = "assent.executor"


def _schema_caches(
    schema: GraphQLSchema,
) -> tuple[dict[tuple[str, str], _Way], OperationReaders]:
    """The ways of the schema's fields, by type and field name, and the readers of its
    operations. Kept in the schema's own extensions, so they live as long as it does: a
    registry beside it would keep it alive (the ways lead to its resolvers, and so to it)."""
    caches = schema.extensions.get(_CACHES)
    if caches is None:
        caches = schema.extensions[_CACHES] = ({}, OrderedDict())
    return cast(tuple[dict[tuple[str, str], _Way], OperationReaders], caches)


def _is_boolean(type_node: TypeNode) -> bool:
    if isinstance(type_node, NonNullTypeNode):
        type_node = type_node.type
    return isinstance(type_node, NamedTypeNode) and type_node.name.value == "Boolean"


def _place(path: Path | None) -> tuple[str, ...]:
    """Where a field is in an operation: its path's names and types, less list indices."""
    place: list[str] = []
    while path is not None:
        if isinstance(path.key, str):
            place += (path.key, path.typename or "")
        path = path.prev
    return tuple(place)


def _way(field_def: GraphQLField | None, parent_type: GraphQLObjectType) -> _Way:
    general = _Way(_GENERAL, parent_type, None, True, None, None, True, _NoExactType)
    if field_def is None or not _is_basic(field_def):
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
        return _Way(
            _LEAF, return_type, read, nullable, _coercion(inner), None, True,
            _exact_type(inner),
        )  # fmt: skip
    if is_object_type(inner):
        assert isinstance(inner, GraphQLObjectType)
        if inner.is_type_of is not None:
            return general
        return _Way(_OBJECT, return_type, read, nullable, inner, None, True, _NoExactType)
    if not is_list_type(inner):
        return general
    assert isinstance(inner, GraphQLList)
    item_type: GraphQLOutputType = inner.of_type
    item, item_nullable = _unwrap(item_type)
    if is_leaf_type(item):
        assert isinstance(item, GraphQLLeafType)
        return _Way(
            _LEAF_LIST, return_type, read, nullable,
            _coercion(item), item_type, item_nullable, _exact_type(item),
        )  # fmt: skip
    if is_object_type(item):
        assert isinstance(item, GraphQLObjectType)
        if item.is_type_of is not None:
            return general
        return _Way(
            _OBJECT_LIST, return_type, read, nullable, item, item_type, item_nullable,
            _NoExactType,
        )  # fmt: skip
    return general


def _coercion(leaf: GraphQLLeafType) -> Reader:
    """The leaf's output coercion; for an enum's own members, a dict lookup of what it
    answers for each (strawberry's compares the value with each of the enum's in turn)."""
    coerce = leaf.coerce_output_value
    if not isinstance(leaf, CustomGraphQLEnumType):
        return coerce
    members: type[Enum] = cast(type[Enum], leaf.wrapped_cls)
    names: dict[Enum, Any] = {}
    for member in members:
        # A member it refuses is refused when it is read, as it would be.
        with contextlib.suppress(Exception):
            names[member] = coerce(member)

    def coerce_member(value: Any) -> Any:
        if type(value) is members and value in names:
            return names[value]
        return coerce(value)

    return coerce_member


def _exact_type(leaf: GraphQLLeafType) -> type:
    """The Python type whose values the leaf's coercion returns unchanged, if any."""
    if leaf is GraphQLString or leaf is GraphQLID:
        return str
    if leaf is GraphQLBoolean:
        return bool
    return _NoExactType


def _undirected(details: FieldDetailsList) -> bool:
    """Neither arguments nor directives (@stream among them) on any node of the field."""
    return not any(
        detail.node.arguments
        or detail.node.directives
        or detail.fragment_variable_values is not None
        for detail in details
    )


# --- readers: each answers _UNPLAIN, before any effect, where it cannot serve plainly ---


def _leaf_value_reader(coerce: Reader, exact: type, plain: Callable[[Any], bool]) -> Reader:
    """A non-null leaf value, coerced."""

    def leaf_value(value: Any) -> Any:
        if type(value) is exact:
            return value
        if not isinstance(value, _NEVER_AWAITED) and not plain(value):
            return _UNPLAIN
        coerced = coerce(value)
        return _UNPLAIN if coerced is None or coerced is Undefined else coerced

    return leaf_value


def _object_value_reader(serve: Reader, plain: Callable[[Any], bool]) -> Reader:
    """A non-null object value, served by its sub-selection's reader."""

    def object_value(value: Any) -> Any:
        return serve(value) if plain(value) else _UNPLAIN

    return object_value


def _single_field(read: Reader, nullable: bool, exact: type, item: Reader) -> Reader:
    """A field of one value: its read, then `item` for a value that is not null."""

    def single_field(source: Any) -> Any:
        value = read(source)
        if type(value) is exact:
            return value
        if value is None:
            return None if nullable else _UNPLAIN
        return item(value)

    return single_field


def _list_field(read: Reader, nullable: bool, item_nullable: bool, item: Reader) -> Reader:
    """A field of a list: its read, then `item` for each value that is not null."""

    def list_field(source: Any) -> Any:
        values = read(source)
        if values is None:
            return None if nullable else _UNPLAIN
        if not isinstance(values, list | tuple):
            return _UNPLAIN
        completed: list[Any] = []
        for value in values:
            if value is None:
                if not item_nullable:
                    return _UNPLAIN
                completed.append(None)
                continue
            value = item(value)
            if value is _UNPLAIN:
                return _UNPLAIN
            completed.append(value)
        return completed

    return list_field


def _typename_reader(parent_type: GraphQLObjectType, step: _Step) -> Reader | None:
    if step.field_details[0].node.name.value != "__typename" or not _undirected(step.field_details):
        return None
    name = parent_type.name
    return lambda _source: name


def _object_reader(fields: tuple[tuple[str, Reader], ...]) -> Reader:
    """An object's sub-selection as a dict: no path, no plan, no dispatch."""

    def serve(source: Any) -> Any:
        served: dict[str, Any] = {}
        try:
            for name, field in fields:
                value = field(source)
                if value is _UNPLAIN:
                    return _UNPLAIN
                served[name] = value
        except Exception:
            return _UNPLAIN
        return served

    return serve
