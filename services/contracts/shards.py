"""What crosses HTTP about a delivery's WebDataset shards: the request, the shard set
and its signed shard manifest.

A shard set is written on request, after the delivery is issued: tar shards of about a
configured size (1 GiB by default) holding each file as `<fingerprint>.<extension>`
beside `<fingerprint>.json` (its licence, uses and attribution), and a Parquet index
(`SHARD_INDEX_NAME`) giving each record's shard, offset, size, sha256, licence and uses.

The shard manifest is a DSSE envelope around an in-toto v1 statement signed with the
marketplace's manifest key: its subjects are every shard and the index with their
sha256, and its header names the sha256 of the delivery's own signed manifest, so the
two documents are bound together.
"""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.contracts.signing import Envelope

SHARDS_PREDICATE_TYPE = "urn:assent:delivery-shards:v1"
SHARD_INDEX_NAME = "index.parquet"
SHARD_NAME_PATTERN = r"^(shard-[0-9]{6}\.tar|index\.parquet)$"
"""A name a shard set's link is asked for: a shard or the index."""


def shard_name(position: int) -> str:
    return f"shard-{position:06d}.tar"


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class ShardSetStatus(StrEnum):
    BUILDING = "building"
    ISSUED = "issued"


class ShardObject(Schema):
    """A shard, or the index: one object, fetched through one link."""

    name: str
    size: int
    sha256: str
    records: int = Field(description="records the shard holds; for the index, every record")


class ShardsHeader(Schema):
    delivery_id: UUID
    licence_id: UUID
    buyer_id: UUID
    manifest_sha256: str = Field(description="sha256 of the delivery's signed manifest")
    issued_at: datetime
    key_id: str
    record_count: int


class ShardSetRead(Schema):
    delivery_id: UUID
    status: ShardSetStatus
    requested_at: datetime
    issued_at: datetime | None
    shards: list[ShardObject] = Field(description="in order; empty until issued")
    index: ShardObject | None
    envelope: Envelope | None = Field(description="the signed shard manifest, once issued")
