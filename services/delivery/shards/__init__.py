"""A delivery's WebDataset shards and their Parquet index, written on the buyer's
request after the delivery is issued, with a signed shard manifest (see `build`)."""

from services.delivery.shards.api import router
from services.delivery.shards.build import ShardBuilder

__all__ = ["ShardBuilder", "router"]
