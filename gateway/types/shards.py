"""A delivery's WebDataset shards, as GraphQL shows them."""

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from gateway.types.errors import Conflict, Forbidden, NotFound, Refusals
from gateway.types.scalars import BigInt
from services.contracts import shards as contract

ShardSetStatus = contract.ShardSetStatus
strawberry.enum(ShardSetStatus)


def shard_download_path(delivery_id: object, name: str) -> str:
    """Where a shard (or the index) is fetched, relative to the gateway."""
    return f"/downloads/{delivery_id}/shards/{name}"


@strawberry.type
class ShardFile:
    name: str
    size: BigInt
    sha256: str
    records: int = strawberry.field(description="Records it holds; for the index, every record.")
    download_url: str = strawberry.field(
        description="GET with your API key: checks the licence, then redirects to the bytes."
    )


@strawberry.type
class ShardSet:
    delivery_id: strawberry.ID
    status: ShardSetStatus
    requested_at: datetime
    issued_at: datetime | None
    shards: list[ShardFile] = strawberry.field(description="In order; none until issued.")
    index: ShardFile | None = strawberry.field(
        description="The Parquet index: each record's shard, offset, size, sha256, licence "
        "and uses."
    )
    manifest: JSON | None = strawberry.field(
        description="The signed shard manifest (DSSE): every shard's sha256 and the "
        "delivery manifest's."
    )

    @classmethod
    def of(cls, read: contract.ShardSetRead, public_url: str) -> "ShardSet":
        def file(item: contract.ShardObject) -> ShardFile:
            return ShardFile(
                name=item.name,
                size=BigInt(item.size),
                sha256=item.sha256,
                records=item.records,
                download_url=public_url + shard_download_path(read.delivery_id, item.name),
            )

        envelope = read.envelope
        return cls(
            delivery_id=strawberry.ID(str(read.delivery_id)),
            status=read.status,
            requested_at=read.requested_at,
            issued_at=read.issued_at,
            shards=[file(item) for item in read.shards],
            index=file(read.index) if read.index else None,
            manifest=JSON(envelope.model_dump(mode="json", by_alias=True)) if envelope else None,
        )


@strawberry.type
class ShardsRequested:
    shard_set: ShardSet


RequestShardsResult = Annotated[
    ShardsRequested | NotFound | Forbidden | Conflict | Refusals,
    strawberry.union("RequestShardsResult"),
]
