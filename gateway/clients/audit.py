"""The audit log, as the gateway calls it."""

import uuid

from pydantic import TypeAdapter

from gateway.accounts.service import Principal
from gateway.clients.base import ServiceApi
from services.contracts.audit import ChainRead, ChainSubjectKind, CheckpointProof
from services.contracts.signing import PublicKeyRead

_KEYS = TypeAdapter(list[PublicKeyRead])
_CHAIN_PATHS = {ChainSubjectKind.WORK: "works", ChainSubjectKind.LICENCE: "licences"}


def _sizes(tree_size: int | None, consistent_with: int | None) -> dict[str, int]:
    given = {"tree_size": tree_size, "consistent_with": consistent_with}
    return {name: value for name, value in given.items() if value is not None}


class AuditClient(ServiceApi):
    async def checkpoint(
        self, principal: Principal, *, tree_size: int | None, consistent_with: int | None
    ) -> CheckpointProof:
        return await self._model(
            CheckpointProof,
            principal,
            "GET",
            "/v1/checkpoint",
            params=_sizes(tree_size, consistent_with),
        )

    async def chain(
        self,
        principal: Principal,
        kind: ChainSubjectKind,
        subject_id: uuid.UUID,
        *,
        tree_size: int | None,
        consistent_with: int | None,
    ) -> ChainRead:
        return await self._model(
            ChainRead,
            principal,
            "GET",
            f"/v1/chains/{_CHAIN_PATHS[kind]}/{subject_id}",
            params=_sizes(tree_size, consistent_with),
        )

    async def keys(self, principal: Principal | None) -> list[PublicKeyRead]:
        return _KEYS.validate_json(await self._call(principal, "GET", "/v1/keys"))
