from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

BigInt = NewType("BigInt", int)
"""GraphQL's Int stops at 2^31; money in minor units and file sizes go beyond."""

SCALARS: dict[object, ScalarDefinition] = {
    BigInt: strawberry.scalar(
        name="BigInt",
        serialize=int,
        parse_value=int,
        description="An integer beyond 32 bits (money in minor units, file sizes).",
    ),
}
