"""What every typed service client of the gateway shares: the caller's identity on the
internal token, JSON bodies, query parameters, and REST errors mapped back."""

from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import to_json

from gateway.accounts.service import Principal
from gateway.clients.errors import raise_for_error
from services.kit.client import ServiceClient, query_pairs

ModelT = TypeVar("ModelT", bound=BaseModel)


def query_params(model: BaseModel) -> list[tuple[str, str]]:
    """A query model as repeated parameters (`uses=a&uses=b`), booleans as `true`/`false`."""
    return query_pairs(model.model_dump(mode="json", exclude_none=True))


class ServiceApi:
    def __init__(self, client: ServiceClient) -> None:
        self._client = client

    async def _call(
        self,
        principal: Principal | None,
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: Any = None,
    ) -> bytes:
        response = await self._client.request(
            method,
            path,
            subject=str(principal.account_id) if principal else "anonymous",
            roles=principal.roles if principal else frozenset(),
            name=principal.account.name if principal else None,
            content=to_json(body) if body is not None else None,
            params=params,
        )
        raise_for_error(self._client.name, response)
        return response.content

    async def _model(
        self,
        model: type[ModelT],
        principal: Principal | None,
        method: str,
        path: str,
        **kwargs: Any,
    ) -> ModelT:
        return model.model_validate_json(await self._call(principal, method, path, **kwargs))
