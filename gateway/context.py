"""What every resolver of one request shares: the caller, a database session opened on
first use, and the service clients."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cached_property

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.fastapi import BaseContext

from gateway.accounts.cache import PrincipalCache
from gateway.accounts.service import Principal
from gateway.clients.audit import AuditClient
from gateway.clients.card import CardClient
from gateway.clients.catalogue import CatalogueClient
from gateway.clients.delivery import DeliveryClient
from gateway.clients.invoices import InvoicesClient
from gateway.clients.licensing import LicensingClient
from gateway.clients.notifications import NotificationsClient
from gateway.clients.payouts import PayoutsClient
from gateway.clients.services import ServiceClients
from gateway.clients.training import TrainingClient
from gateway.clients.webhooks import WebhookClient
from gateway.loaders import Loaders
from services.kit.db import close, roll_back
from services.kit.errors import ServiceUnavailable, Unauthenticated, connection_lost


class Context(BaseContext):
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        principal: Principal | None,
        principals: PrincipalCache,
        refusal: Unauthenticated | ServiceUnavailable | None = None,
        services: ServiceClients,
        public_url: Callable[[], str],
    ) -> None:
        super().__init__()
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None
        self._lock = asyncio.Lock()
        self._after_commit: list[Callable[[], None]] = []
        # A statement failed outside a savepoint: on PostgreSQL the transaction is void.
        self.transaction_broken = False
        # A mutation's savepoint was kept and its success answered: only a commit keeps it.
        self.writes_answered = False
        self.principal = principal
        # Why the key presented was refused, or could not be checked; None when none was
        # presented.
        self._refusal = refusal
        # Changes to keys and roles forget what they affect, once they are committed.
        self.principals = principals
        self.services = services
        self._public_url = public_url
        self.catalogue = CatalogueClient(services.by_name["catalogue"])
        self.notifications = NotificationsClient(services.by_name["catalogue"])
        self.licensing = LicensingClient(services.by_name["licensing"])
        self.training = TrainingClient(services.by_name["licensing"])
        self.cards = CardClient(services.by_name["licensing"])
        self.payouts = PayoutsClient(services.by_name["licensing"])
        self.invoices = InvoicesClient(services.by_name["licensing"])
        self.delivery = DeliveryClient(services.by_name["delivery"])
        self.webhooks = WebhookClient(services.by_name["delivery"])
        self.audit = AuditClient(services.by_name["audit"])

    # Made when first used: most operations (a purchase, say) need neither.
    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(
            self.principal,
            catalogue=self.catalogue,
            licensing=self.licensing,
            delivery=self.delivery,
        )

    @cached_property
    def public_url(self) -> str:
        """Download links are absolute, on the address the client reached the gateway by."""
        return self._public_url().rstrip("/")

    def _opened(self) -> AsyncSession:
        if self._session is None:
            self._session = self._sessionmaker()
        return self._session

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        """The operation's session, for one resolver at a time: sibling fields resolve
        concurrently, and a session must not be used by two at once."""
        async with self._lock:
            try:
                yield self._opened()
            except SQLAlchemyError as exc:
                self.transaction_broken = True
                if connection_lost(exc):
                    raise _lost_connection() from exc
                raise

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[AsyncSession]:
        """A mutation's writes inside a savepoint: an expected failure undoes them alone,
        never a mutation before it in the same operation that already answered."""
        async with self._lock:
            session = self._opened()
            try:
                async with session.begin_nested():
                    yield session
            except SQLAlchemyError as exc:
                if not connection_lost(exc):
                    raise
                self.transaction_broken = True
                raise _lost_connection() from exc
            self.writes_answered = True

    def require_principal(self) -> Principal:
        if self.principal is not None:
            return self.principal
        if isinstance(self._refusal, ServiceUnavailable):
            raise ServiceUnavailable(self._refusal.detail, service=self._refusal.service)
        raise Unauthenticated(
            self._refusal.detail
            if self._refusal is not None
            else "sign in with an API key (Authorization: Bearer <key>)"
        )

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the operation's writes are committed, and only then."""
        self._after_commit.append(callback)

    async def finish(self, *, commit: bool) -> None:
        """End the operation's transaction; the session is closed whatever happens."""
        session, self._session = self._session, None
        callbacks, self._after_commit = self._after_commit, []
        try:
            if session is not None:
                if commit:
                    await commit_or_roll_back(session)
                else:
                    await roll_back(session)
            if commit:
                for callback in callbacks:
                    callback()
        finally:
            if session is not None:
                await close(session)


def _lost_connection() -> ServiceUnavailable:
    return ServiceUnavailable(
        "the gateway lost its database connection; nothing of this operation's changes to "
        "accounts and keys was saved, retry",
        service="gateway",
    )


async def commit_or_roll_back(session: AsyncSession) -> None:
    try:
        await session.commit()
    except Exception:
        # On SQLite a COMMIT refused (a deferred constraint, a full disk) leaves the
        # transaction open, and its write lock held past the session's close: every
        # other writer would wait on it. The rollback ends it (or, on a lost
        # connection, discards the connection).
        await roll_back(session)
        raise
