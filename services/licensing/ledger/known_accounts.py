"""Which ledger accounts are known to exist, so a sale skips the statement creating them."""

import uuid
from collections.abc import Collection
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import on_commit


class KnownAccounts:
    """The ledger accounts this process has seen committed, by database.

    Accounts are never deleted, so an account once committed to a database exists there
    for good. By engine: the same account id may be missing from another database this
    process uses (tests run SQLite beside PostgreSQL). A session bound to a connection
    joins a transaction it does not end (a test's, rolled back afterwards): nothing it
    commits is known to last, so for it nothing is known. Built once per app and shared by
    its requests; `enabled=False` makes every sale ask the database.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._by_engine: WeakKeyDictionary[Engine, set[uuid.UUID]] = WeakKeyDictionary()

    def _of(self, session: AsyncSession) -> set[uuid.UUID] | None:
        bind = session.get_bind()
        if not self.enabled or not isinstance(bind, Engine):
            return None
        return self._by_engine.setdefault(bind, set())

    def knows(self, session: AsyncSession, account_id: uuid.UUID) -> bool:
        known = self._of(session)
        return known is not None and account_id in known

    def remember_on_commit(self, session: AsyncSession, ids: Collection[uuid.UUID]) -> None:
        """Know `ids` once the session's transaction has committed them."""
        known = self._of(session)
        if known is not None:
            created = set(ids)
            on_commit(session, lambda: known.update(created))
