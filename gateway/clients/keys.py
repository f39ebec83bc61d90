"""The signing keys of the services that sign (licensing, delivery, audit), as the
gateway publishes and rotates them."""

from pydantic import TypeAdapter

from gateway.accounts.service import Principal
from gateway.clients.base import ServiceApi
from services.contracts.signing import PublicKeyRead

_KEYS = TypeAdapter(list[PublicKeyRead])


class KeysApi(ServiceApi):
    async def keys(self, principal: Principal | None) -> list[PublicKeyRead]:
        return _KEYS.validate_json(await self._call(principal, "GET", "/v1/keys"))

    async def rotate(self, principal: Principal) -> list[PublicKeyRead]:
        """The service checks the caller is an admin (from the internal token's roles)."""
        return _KEYS.validate_json(await self._call(principal, "POST", "/v1/keys/rotate"))
