"""What each field adds to a document's cost, read once per schema from strawberry's
definitions of the fields (their public `is_async` and `metadata`)."""

from dataclasses import dataclass

import strawberry
from graphql import InterfaceTypeDefinitionNode, ObjectTypeDefinitionNode, parse
from strawberry.types.base import StrawberryObjectDefinition

# A list that takes no page size and declares no bound (roles, shares, entries): short in
# practice, but not free, so each counts as this many items.
UNPAGED_LIST_SIZE = 5
# The metadata key of a list field's largest length, where it is more than that.
MAX_ITEMS = "max_items"
# A field whose resolver awaits (a service call, a DataLoader, the gateway's database).
SERVICE_CALL_WEIGHT = 20


def list_bound(items: int) -> dict[str, int]:
    """A list field's metadata declaring how many items it holds at most."""
    return {MAX_ITEMS: items}


@dataclass(frozen=True)
class FieldWeight:
    # What the field adds to the cost each time it is selected, beyond its own 1.
    call: int = 0
    # How many items the field counts as, were it a list no page size bounds.
    list_items: int = UNPAGED_LIST_SIZE


# A field strawberry does not define (none in this schema, but graphql-core's own).
UNWEIGHTED = FieldWeight()

# By the GraphQL names of the parent type and the field.
FieldWeights = dict[tuple[str, str], FieldWeight]


def field_weights(schema: strawberry.Schema) -> FieldWeights:
    """Every object and interface field of `schema`, weighed. The type names come from
    the schema's SDL, the one public listing of them."""
    weights: FieldWeights = {}
    for type_name in _object_and_interface_names(schema):
        definition = schema.get_type_by_name(type_name)
        if not isinstance(definition, StrawberryObjectDefinition):
            continue
        for field in definition.fields:
            name = schema.config.name_converter.get_graphql_name(field)
            bound = field.metadata.get(MAX_ITEMS)
            weights[type_name, name] = FieldWeight(
                call=SERVICE_CALL_WEIGHT if field.is_async else 0,
                list_items=bound if isinstance(bound, int) else UNPAGED_LIST_SIZE,
            )
    return weights


def _object_and_interface_names(schema: strawberry.Schema) -> list[str]:
    return [
        definition.name.value
        for definition in parse(schema.as_str()).definitions
        if isinstance(definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode)
    ]
