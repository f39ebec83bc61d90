"""Per-request DataLoaders: a page of objects and what they point to costs one batch call
per kind, whatever the page's size."""

import uuid
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from gateway.accounts.service import Principal
from gateway.clients.catalogue import CatalogueClient
from gateway.clients.delivery import DeliveryClient
from gateway.clients.licensing import LicensingClient
from services.contracts.catalogue import CreatorRead, MetadataVersionRead, PreviewUrl, WorkRead
from services.contracts.delivery import DeliveryFilePage, DeliveryRead, ManifestRead
from services.contracts.licensing import CertificateRead, LicenceRead
from services.kit.errors import AssentError

# The services' batch reads take at most 100 ids.
MAX_BATCH = 100


class Loaders:
    def __init__(
        self,
        principal: Principal | None,
        *,
        catalogue: CatalogueClient,
        licensing: LicensingClient,
        delivery: DeliveryClient,
    ) -> None:
        async def load_works(ids: Sequence[uuid.UUID]) -> list[WorkRead | None]:
            found = {work.id: work for work in await catalogue.works(principal, ids)}
            return [found.get(work_id) for work_id in ids]

        async def load_creators(ids: Sequence[uuid.UUID]) -> list[CreatorRead | None]:
            found = {creator.id: creator for creator in await catalogue.creators(principal, ids)}
            return [found.get(creator_id) for creator_id in ids]

        async def load_previews(ids: Sequence[uuid.UUID]) -> list[PreviewUrl | None]:
            found = {url.version_id: url for url in await catalogue.previews(principal, ids)}
            return [found.get(version_id) for version_id in ids]

        async def load_histories(
            ids: Sequence[uuid.UUID],
        ) -> list[list[MetadataVersionRead] | None]:
            found = {h.work_id: h.versions for h in await catalogue.histories(principal, ids)}
            return [found.get(work_id) for work_id in ids]

        async def load_statement_texts(sha256s: Sequence[str]) -> list[str | None]:
            found = {
                stored.sha256: stored.text
                for stored in await catalogue.statement_texts(principal, sha256s)
            }
            return [found.get(sha256) for sha256 in sha256s]

        async def load_licences(ids: Sequence[uuid.UUID]) -> list[LicenceRead | None]:
            if principal is None:
                return [None for _ in ids]
            found = {lic.id: lic for lic in await licensing.licences_by_id(principal, ids)}
            return [found.get(licence_id) for licence_id in ids]

        async def load_deliveries(ids: Sequence[uuid.UUID]) -> list[DeliveryRead | None]:
            if principal is None:
                return [None for _ in ids]
            found = {d.licence_id: d for d in await delivery.deliveries_of(principal, ids)}
            return [found.get(licence_id) for licence_id in ids]

        async def load_certificates(
            ids: Sequence[uuid.UUID],
        ) -> list[CertificateRead | AssentError | None]:
            if principal is None:
                return [None for _ in ids]
            return list(await licensing.certificates(principal, ids))

        async def load_manifests(ids: Sequence[uuid.UUID]) -> list[ManifestRead | None]:
            if principal is None:
                return [None for _ in ids]
            found = {m.delivery_id: m for m in await delivery.manifests(principal, ids)}
            return [found.get(delivery_id) for delivery_id in ids]

        async def load_first_files(
            keys: Sequence[tuple[uuid.UUID, int]],
        ) -> list[DeliveryFilePage | None]:
            """Keyed by (delivery, page size): one call per page size asked for."""
            if principal is None:
                return [None for _ in keys]
            by_size: dict[int, list[uuid.UUID]] = {}
            for delivery_id, first in keys:
                by_size.setdefault(first, []).append(delivery_id)
            found: dict[tuple[uuid.UUID, int], DeliveryFilePage] = {}
            for first, ids in by_size.items():
                for page in await delivery.first_files(principal, ids, first):
                    found[(page.delivery_id, first)] = page
            return [found.get(key) for key in keys]

        self.works: DataLoader[uuid.UUID, WorkRead | None] = DataLoader(
            load_works, max_batch_size=MAX_BATCH
        )
        self.creators: DataLoader[uuid.UUID, CreatorRead | None] = DataLoader(
            load_creators, max_batch_size=MAX_BATCH
        )
        self.previews: DataLoader[uuid.UUID, PreviewUrl | None] = DataLoader(
            load_previews, max_batch_size=MAX_BATCH
        )
        self.histories: DataLoader[uuid.UUID, list[MetadataVersionRead] | None] = DataLoader(
            load_histories, max_batch_size=MAX_BATCH
        )
        self.statement_texts: DataLoader[str, str | None] = DataLoader(
            load_statement_texts, max_batch_size=MAX_BATCH
        )
        self.licences: DataLoader[uuid.UUID, LicenceRead | None] = DataLoader(
            load_licences, max_batch_size=MAX_BATCH
        )
        self.delivery_of_licence: DataLoader[uuid.UUID, DeliveryRead | None] = DataLoader(
            load_deliveries, max_batch_size=MAX_BATCH
        )
        self.certificates: DataLoader[uuid.UUID, CertificateRead | None] = DataLoader(
            load_certificates, max_batch_size=MAX_BATCH
        )
        self.manifests: DataLoader[uuid.UUID, ManifestRead | None] = DataLoader(
            load_manifests, max_batch_size=MAX_BATCH
        )
        self.first_files: DataLoader[tuple[uuid.UUID, int], DeliveryFilePage | None] = DataLoader(
            load_first_files, max_batch_size=MAX_BATCH
        )
