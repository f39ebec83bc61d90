"""Recently authenticated API keys, so a busy key costs no database read per request.

Every GraphQL request and download link authenticates; without this, each one spends a
pool checkout, a transaction and a read in the gateway's database before any work. The
price is staleness: a key revoked, or a role granted, through another gateway replica
takes effect here within `ttl_seconds`. On the replica that made the change it takes
effect at once, because the change forgets the entries it affects.
"""

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

from gateway.accounts.service import Principal


class PrincipalCache:
    def __init__(self, *, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self._max_entries = max_entries
        # Keyed by the key's sha256, never by the secret itself.
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        # Counts the forgets: a principal read before one may be stale, and is not kept.
        self._generation = 0

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        expires_at, principal = entry
        if time.monotonic() >= expires_at:
            del self._entries[key_hash]
            return None
        return principal

    @property
    def generation(self) -> int:
        """Taken before reading a key from the database, and handed back to `put`."""
        return self._generation

    def put(self, key_hash: str, principal: Principal, *, read_in: int) -> None:
        """Keeps `principal` unless something was forgotten since generation `read_in`:
        a key revoked while it was being read must not come back from the cache."""
        if not self.enabled or read_in != self._generation:
            return
        self._entries[key_hash] = (time.monotonic() + self.ttl_seconds, principal)
        self._entries.move_to_end(key_hash)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget_key(self, key_id: uuid.UUID) -> None:
        self._forget(lambda principal: principal.key_id == key_id)

    def forget_account(self, account_id: uuid.UUID) -> None:
        self._forget(lambda principal: principal.account_id == account_id)

    def _forget(self, matches: Callable[[Principal], bool]) -> None:
        self._generation += 1
        for key_hash in [h for h, (_, p) in self._entries.items() if matches(p)]:
            del self._entries[key_hash]
