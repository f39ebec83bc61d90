"""Quotes' queries."""

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Row,
    Table,
    bindparam,
    update,
)

from services.kit.repository import Repository
from services.licensing.models import (
    Quote,
)

# A purchase's writes pass their rows to `execute` (one pipelined executemany for several
# rows) rather than inside the statement with `.values()`, which is compiled anew on every
# call. Its other statements are built once: building and keying one per call costs more
# than running it.
_QUOTE = cast(Table, Quote.__table__)
_MARK_PURCHASED = (
    update(_QUOTE)
    .where(_QUOTE.c.id == bindparam("quote_id"), _QUOTE.c.purchased_at.is_(None))
    .values(purchased_at=bindparam("purchased"))
    .returning(*_QUOTE.c)
)


class QuoteRepository(Repository[Quote]):
    model = Quote

    async def mark_purchased(self, quote_id: uuid.UUID, at: datetime) -> Row[Any] | None:
        """Mark a quote not yet bought as bought, and return its row, locked until the
        transaction ends; None when there is no such quote or it was bought already.
        One statement where a lock and then an update were two: a purchase refused
        afterwards rolls the mark back with everything else.

        Every racer for the quote already holds a key-share lock on its row (its
        idempotency key's foreign key). The update's lock coexists with those; a racer
        that lost must not ask for a row lock on top of its own (FOR UPDATE waits for
        the other losers' key-share locks, and theirs for its own: a deadlock)."""
        marked = await self.session.execute(
            _MARK_PURCHASED, {"quote_id": quote_id, "purchased": at}
        )
        return marked.one_or_none()
