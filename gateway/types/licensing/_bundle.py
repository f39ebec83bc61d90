"""Bundles: the works a buyer means to license together, for the uses they name."""

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.document_limits import list_bound
from gateway.types.catalogue import Use, Work
from gateway.types.errors import Forbidden, NotFound, Refusals, ValidationFailed
from gateway.types.licensing._common import BundleSource
from services.contracts import licensing as contract


@strawberry.type
class Bundle:
    id: strawberry.ID
    name: str
    uses: list[Use]
    currency: str
    source: BundleSource
    work_ids: list[strawberry.ID]
    created_at: datetime

    @classmethod
    def of(cls, bundle: contract.BundleRead) -> "Bundle":
        return cls(
            id=strawberry.ID(str(bundle.id)),
            name=bundle.name,
            uses=list(bundle.uses),
            currency=bundle.currency,
            source=bundle.source,
            work_ids=[strawberry.ID(str(work_id)) for work_id in bundle.work_ids],
            created_at=bundle.created_at,
        )

    @strawberry.field(
        description="The bundle's works you may still see (one batch call).",
        metadata=list_bound(contract.MAX_BUNDLE_WORKS),
    )
    async def works(self, info: Info[Context, None]) -> list[Work]:
        loaded = await info.context.loaders.works.load_many(
            [uuid.UUID(str(work_id)) for work_id in self.work_ids]
        )
        return [Work.of(work) for work in loaded if work is not None]


@strawberry.type
class BundleConnection:
    items: list[Bundle]
    next_cursor: str | None


@strawberry.type
class BundleCreated:
    bundle: Bundle


BundleResult = Annotated[Bundle | NotFound | Refusals, strawberry.union("BundleResult")]
BundlesResult = Annotated[
    BundleConnection | ValidationFailed | Refusals, strawberry.union("BundlesResult")
]
CreateBundleResult = Annotated[
    BundleCreated | ValidationFailed | Forbidden | Refusals,
    strawberry.union("CreateBundleResult"),
]
