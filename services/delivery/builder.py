"""The background task that builds deliveries, one transaction per delivery.

A delivery waits in the database as `building` from the moment its grant commits, so
nothing is lost when a process stops: whichever builder runs next claims it. A commit
that creates one wakes the builders of this process at once; a poll covers the rest
(retries, and grants received by another replica that has since died).
"""

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.delivery.repository import DeliveryRepository
from services.delivery.service import BuildTools, CatalogueChanged, delivery_service
from services.kit.db import utcnow

log = structlog.get_logger()

# Each running builder's event, with its loop, as the outbox relay keeps its own.
_builders_waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()


def wake_builders() -> None:
    """Start building now rather than at the next poll (call once a grant has committed)."""
    for loop, wake in list(_builders_waiting):
        if not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)


@dataclass(frozen=True)
class BuildRuntime:
    sessionmaker: async_sessionmaker[AsyncSession]
    tools: BuildTools


class DeliveryBuilder:
    """Builds every delivery that is due; `runtime` is asked afresh for each one."""

    def __init__(
        self,
        runtime: Callable[[], BuildRuntime],
        *,
        poll_seconds: float,
        max_backoff_seconds: float,
        batch_size: int = 50,
        gather_seconds: float = 0.05,
    ) -> None:
        """After a pass that built several deliveries, the next waits `gather_seconds`:
        under a stream of sales each batch then holds many, and its transaction, its
        catalogue read and its relayed events serve them all (bench/purchase.py)."""
        self._runtime = runtime
        self._poll_seconds = poll_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self._batch_size = batch_size
        self._gather_seconds = gather_seconds

    async def run(self) -> None:
        waiting = (asyncio.get_running_loop(), asyncio.Event())
        _builders_waiting.add(waiting)
        try:
            built = 0
            while True:
                if built > 1:
                    await asyncio.sleep(self._gather_seconds)
                # Cleared before building, so a commit during a build still wakes us.
                waiting[1].clear()
                try:
                    built = len(await self.build_pending())
                except Exception:
                    built = 0
                    log.exception("delivery.builder.failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiting[1].wait(), timeout=self._poll_seconds)
        finally:
            _builders_waiting.discard(waiting)

    async def build_pending(self) -> list[uuid.UUID]:
        """Build deliveries until none is due; the ids claimed (built or postponed)."""
        claimed = []
        while batch := await self.build_batch():
            claimed.extend(batch)
        return claimed

    async def build_batch(self) -> list[uuid.UUID]:
        """Claim up to `batch_size` due deliveries and build them in one transaction.

        Under a stream of sales this is one transaction and one catalogue request for
        many deliveries. When the batch fails, nothing of it stays; its deliveries are
        then built one at a time, so that only those that fail again are postponed.
        """
        runtime = self._runtime()
        claimed: list[uuid.UUID] = []
        async with runtime.sessionmaker() as session:
            try:
                async with session.begin():
                    deliveries = await DeliveryRepository(session).claim_due(
                        utcnow(), limit=self._batch_size
                    )
                    claimed = [delivery.id for delivery in deliveries]
                    if deliveries:
                        await delivery_service.build_many(session, deliveries, tools=runtime.tools)
                return claimed
            except CatalogueChanged as exc:
                # Not a failure: the catalogue moved under the batch; fresh reads decide.
                log.info("delivery.build.batch_rebuilt", deliveries=len(claimed), reason=str(exc))
            except Exception as exc:
                if not claimed:
                    raise
                if len(claimed) == 1:
                    await self._postpone(session, claimed[0], exc)
                    return claimed
                log.warning(
                    "delivery.build.batch_failed",
                    deliveries=len(claimed),
                    error=f"{type(exc).__name__}: {exc}",
                    exc_info=True,
                )
        one_by_one = []
        for _ in claimed:
            delivery_id = await self.build_next()
            if delivery_id is None:
                break
            one_by_one.append(delivery_id)
        return one_by_one

    async def build_next(self) -> uuid.UUID | None:
        """Claim the next due delivery and build it; a failure postpones it with backoff."""
        runtime = self._runtime()
        async with runtime.sessionmaker() as session:
            claimed: uuid.UUID | None = None
            try:
                async with session.begin():
                    delivery = await DeliveryRepository(session).claim_next(utcnow())
                    if delivery is None:
                        return None
                    claimed = delivery.id
                    await delivery_service.build(session, delivery, tools=runtime.tools)
            except Exception as exc:
                if claimed is None:
                    raise
                await self._postpone(session, claimed, exc)
            return claimed

    async def _postpone(
        self, session: AsyncSession, delivery_id: uuid.UUID, exc: Exception
    ) -> None:
        log.exception("delivery.build.failed", delivery_id=str(delivery_id))
        async with session.begin():
            await delivery_service.postpone(
                session,
                delivery_id,
                error=f"{type(exc).__name__}: {exc}",
                max_backoff=self._max_backoff_seconds,
            )
