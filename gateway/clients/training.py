"""Training receipts, as the gateway calls licensing for them."""

import uuid
from collections.abc import Sequence

from pydantic import TypeAdapter

from gateway.accounts.service import Principal
from gateway.clients.base import ServiceApi
from services.contracts.licensing import (
    TrainedModel,
    TrainingKeyIn,
    TrainingKeyRead,
    TrainingRunIn,
    TrainingRunRead,
)

_KEYS = TypeAdapter(list[TrainingKeyRead])
_RUNS = TypeAdapter(list[TrainingRunRead])
_TRAINED = TypeAdapter(list[TrainedModel])


class TrainingClient(ServiceApi):
    async def register_key(self, principal: Principal, key: TrainingKeyIn) -> TrainingKeyRead:
        return await self._model(TrainingKeyRead, principal, "POST", "/v1/training/keys", body=key)

    async def keys(self, principal: Principal) -> list[TrainingKeyRead]:
        return _KEYS.validate_json(await self._call(principal, "GET", "/v1/training/keys"))

    async def revoke_key(self, principal: Principal, key_id: str) -> TrainingKeyRead:
        return await self._model(
            TrainingKeyRead, principal, "POST", f"/v1/training/keys/{key_id}/revoke"
        )

    async def record(self, principal: Principal, run: TrainingRunIn) -> TrainingRunRead:
        return await self._model(TrainingRunRead, principal, "POST", "/v1/training/runs", body=run)

    async def runs(self, principal: Principal, model: str | None) -> list[TrainingRunRead]:
        params = {"model": model} if model else None
        return _RUNS.validate_json(
            await self._call(principal, "GET", "/v1/training/runs", params=params)
        )

    async def run(self, principal: Principal, run_id: uuid.UUID) -> TrainingRunRead:
        return await self._model(TrainingRunRead, principal, "GET", f"/v1/training/runs/{run_id}")

    async def trained_models(
        self, principal: Principal, work_ids: Sequence[uuid.UUID]
    ) -> list[TrainedModel]:
        params = [("work_id", str(work_id)) for work_id in work_ids]
        return _TRAINED.validate_json(
            await self._call(principal, "GET", "/v1/training/by-work", params=params)
        )
