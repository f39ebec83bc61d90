"""What every resolver of one request shares: the caller, a database session opened on
first use, and the service clients."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.fastapi import BaseContext

from gateway.accounts.service import Principal
from gateway.clients.catalogue import CatalogueClient
from gateway.clients.services import ServiceClients
from gateway.loaders import Loaders
from services.kit.errors import Unauthenticated


class Context(BaseContext):
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        principal: Principal | None,
        services: ServiceClients,
    ) -> None:
        super().__init__()
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None
        self.principal = principal
        self.services = services
        self.catalogue = CatalogueClient(services.by_name["catalogue"])
        self.loaders = Loaders(self.catalogue, principal)

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._sessionmaker()
        return self._session

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise Unauthenticated("sign in with an API key (Authorization: Bearer <key>)")
        return self.principal

    async def rollback(self) -> None:
        """Undo this operation's writes before answering with an expected failure."""
        if self._session is not None:
            await self._session.rollback()

    async def finish(self, *, commit: bool) -> None:
        if self._session is None:
            return
        try:
            if commit:
                await self._session.commit()
            else:
                await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None
