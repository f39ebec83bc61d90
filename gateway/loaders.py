"""Per-request DataLoaders: a page of works and their creators costs one batch call each."""

import uuid
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from gateway.accounts.service import Principal
from gateway.clients.catalogue import CatalogueClient
from services.contracts.catalogue import CreatorRead, WorkRead


class Loaders:
    def __init__(self, catalogue: CatalogueClient, principal: Principal | None) -> None:
        async def load_works(ids: Sequence[uuid.UUID]) -> list[WorkRead | None]:
            found = {work.id: work for work in await catalogue.works(principal, ids)}
            return [found.get(work_id) for work_id in ids]

        async def load_creators(ids: Sequence[uuid.UUID]) -> list[CreatorRead | None]:
            found = {creator.id: creator for creator in await catalogue.creators(principal, ids)}
            return [found.get(creator_id) for creator_id in ids]

        # The catalogue's batch reads take at most 100 ids.
        self.works: DataLoader[uuid.UUID, WorkRead | None] = DataLoader(
            load_works, max_batch_size=100
        )
        self.creators: DataLoader[uuid.UUID, CreatorRead | None] = DataLoader(
            load_creators, max_batch_size=100
        )
