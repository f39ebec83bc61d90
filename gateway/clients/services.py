"""The gateway's clients for the four services, one shared connection pool."""

from gateway.accounts.service import Principal
from services.contracts.health import ServiceStatus
from services.kit.client import ServiceClient, Transport
from services.kit.errors import ServiceUnavailable
from services.kit.internal_token import TokenSigner

SERVICE_NAMES = ("catalogue", "licensing", "delivery", "audit")


class ServiceClients:
    def __init__(self, urls: dict[str, str], *, signer: TokenSigner, http: Transport) -> None:
        self.by_name = {
            name: ServiceClient(name, urls[name], signer=signer, http=http)
            for name in SERVICE_NAMES
        }

    async def status(self, name: str, principal: Principal) -> ServiceStatus:
        response = await self.by_name[name].request(
            "GET", "/v1/status", subject=str(principal.account_id), roles=principal.roles
        )
        if response.status_code != 200:
            raise ServiceUnavailable(
                f"the {name} service answered {response.status_code}", service=name
            )
        return ServiceStatus.model_validate_json(response.content)
