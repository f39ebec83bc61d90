"""The delivery service, as the gateway calls it."""

import uuid
from collections.abc import Sequence

from pydantic import TypeAdapter

from gateway.accounts.service import Principal
from gateway.clients.base import ServiceApi
from services.contracts.delivery import (
    DeliveryFilePage,
    DeliveryFiles,
    DeliveryRead,
    DownloadLink,
    FileTraceIn,
    FileTraceResult,
    ManifestRead,
    TraceIn,
    TraceResult,
)
from services.contracts.shards import ShardSetRead
from services.contracts.signing import PublicKeyRead
from services.contracts.status_list import StatusListRead

_DELIVERIES = TypeAdapter(list[DeliveryRead])
_MANIFESTS = TypeAdapter(list[ManifestRead])
_FIRST_FILES = TypeAdapter(list[DeliveryFiles])
_KEYS = TypeAdapter(list[PublicKeyRead])


class DeliveryClient(ServiceApi):
    async def delivery(self, principal: Principal, delivery_id: uuid.UUID) -> DeliveryRead:
        return await self._model(DeliveryRead, principal, "GET", f"/v1/deliveries/{delivery_id}")

    async def deliveries_of(
        self, principal: Principal, licence_ids: Sequence[uuid.UUID]
    ) -> list[DeliveryRead]:
        content = await self._call(
            principal,
            "GET",
            "/v1/deliveries",
            params=[("licence_id", str(licence_id)) for licence_id in licence_ids],
        )
        return _DELIVERIES.validate_json(content)

    async def manifest(self, principal: Principal, delivery_id: uuid.UUID) -> ManifestRead:
        return await self._model(
            ManifestRead, principal, "GET", f"/v1/deliveries/{delivery_id}/manifest"
        )

    async def status_list(self, principal: Principal, delivery_id: uuid.UUID) -> StatusListRead:
        return await self._model(
            StatusListRead, principal, "GET", f"/v1/deliveries/{delivery_id}/status"
        )

    async def manifests(
        self, principal: Principal, delivery_ids: Sequence[uuid.UUID]
    ) -> list[ManifestRead]:
        """Those the caller may see that have a manifest; the others are left out."""
        content = await self._call(
            principal,
            "GET",
            "/v1/manifests",
            params=[("delivery_id", str(delivery_id)) for delivery_id in delivery_ids],
        )
        return _MANIFESTS.validate_json(content)

    async def first_files(
        self, principal: Principal, delivery_ids: Sequence[uuid.UUID], first: int
    ) -> list[DeliveryFiles]:
        """The first page of each delivery's files; deliveries the caller may not see are
        left out."""
        params = [("delivery_id", str(delivery_id)) for delivery_id in delivery_ids]
        content = await self._call(
            principal, "GET", "/v1/files", params=[*params, ("first", str(first))]
        )
        return _FIRST_FILES.validate_json(content)

    async def files(
        self, principal: Principal, delivery_id: uuid.UUID, first: int, after: str | None
    ) -> DeliveryFilePage:
        params: dict[str, str | int] = {"first": first, **({"after": after} if after else {})}
        return await self._model(
            DeliveryFilePage, principal, "GET", f"/v1/deliveries/{delivery_id}/files", params=params
        )

    async def link(
        self, principal: Principal, delivery_id: uuid.UUID, fingerprint: str
    ) -> DownloadLink:
        return await self._model(
            DownloadLink,
            principal,
            "POST",
            f"/v1/deliveries/{delivery_id}/files/{fingerprint}/link",
        )

    async def request_shards(self, principal: Principal, delivery_id: uuid.UUID) -> ShardSetRead:
        return await self._model(
            ShardSetRead, principal, "POST", f"/v1/deliveries/{delivery_id}/shards"
        )

    async def shards(self, principal: Principal, delivery_id: uuid.UUID) -> ShardSetRead:
        return await self._model(
            ShardSetRead, principal, "GET", f"/v1/deliveries/{delivery_id}/shards"
        )

    async def shard_link(
        self, principal: Principal, delivery_id: uuid.UUID, name: str
    ) -> DownloadLink:
        return await self._model(
            DownloadLink, principal, "POST", f"/v1/deliveries/{delivery_id}/shards/{name}/link"
        )

    async def trace(self, principal: Principal, leaked: TraceIn) -> TraceResult:
        return await self._model(TraceResult, principal, "POST", "/v1/trace", body=leaked)

    async def trace_file(self, principal: Principal, handed_in: FileTraceIn) -> FileTraceResult:
        return await self._model(
            FileTraceResult, principal, "POST", "/v1/trace/file", body=handed_in
        )

    async def keys(self, principal: Principal | None) -> list[PublicKeyRead]:
        return _KEYS.validate_json(await self._call(principal, "GET", "/v1/keys"))
