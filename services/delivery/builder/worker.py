"""The background worker that builds deliveries (see `assemble` for what a build does).

A delivery waits in the database as `building` from the moment its grant commits, so
nothing is lost when a process stops: whichever builder runs next leases it, at once if
it was never leased, or once the lease of a builder that died has run out. A commit that
creates one wakes this process's builder at once; a poll covers the rest (retries, and
grants received by another replica that has since died).
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.delivery.builder.assemble import BuildTools, Built, Leased, LeaseLost, assemble
from services.delivery.builder.service import build_service
from services.kit.worker import PollingWorker

log = structlog.get_logger()

# A pass that keeps failing (the database away) is retried at most this far apart.
MAX_PASS_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class BuildRuntime:
    sessionmaker: async_sessionmaker[AsyncSession]
    tools: BuildTools


class DeliveryBuilder:
    """Builds every delivery that is due; `runtime` is asked afresh for each batch."""

    def __init__(
        self,
        runtime: Callable[[], BuildRuntime],
        *,
        poll_seconds: float,
        max_backoff_seconds: float,
        lease_seconds: float,
        batch_size: int = 50,
        gather_seconds: float = 0.05,
    ) -> None:
        """A pass builds a batch of up to `batch_size` deliveries; a full batch means a
        backlog, and the next pass starts at once. After a pass that built several but
        fewer, the next waits `gather_seconds`: under a stream of sales each batch then
        holds many, and its transactions and its relayed events serve them all
        (bench/purchase.py). A build still running after `lease_seconds` may be taken
        over by another builder; a build that failed is retried with backoff, at most
        `max_backoff_seconds` later."""
        self._runtime = runtime
        self._max_backoff_seconds = max_backoff_seconds
        self._lease_for = timedelta(seconds=lease_seconds)
        self._batch_size = batch_size
        self._worker = PollingWorker(
            self._build_once,
            name="delivery.builder",
            poll_seconds=poll_seconds,
            batch_size=batch_size,
            gather_seconds=gather_seconds,
            max_backoff_seconds=min(MAX_PASS_BACKOFF_SECONDS, max_backoff_seconds),
        )

    def wake(self) -> None:
        """Start building now rather than at the next poll (call once a grant has committed)."""
        self._worker.wake()

    async def run(self) -> None:
        await self._worker.run()

    async def _build_once(self) -> int:
        return len(await self.build_batch())

    async def build_pending(self) -> list[uuid.UUID]:
        """Build deliveries until none is due; the ids leased (built or postponed)."""
        leased = []
        while batch := await self.build_batch():
            leased.extend(batch)
        return leased

    async def build_next(self) -> uuid.UUID | None:
        """Lease the next due delivery and build it; a failure postpones it with backoff."""
        built = await self.build_batch(limit=1)
        return built[0] if built else None

    async def build_batch(self, limit: int | None = None) -> list[uuid.UUID]:
        """Lease up to `limit` (the batch size) due deliveries, build each, and issue
        them in one transaction. Under a stream of sales the lease, the first lines and
        the issue are each one transaction for many deliveries; a build that fails is
        postponed alone."""
        runtime = self._runtime()
        sessionmaker = runtime.sessionmaker
        async with sessionmaker() as session, session.begin():
            leased = await build_service.lease(
                session, limit=limit or self._batch_size, lease_for=self._lease_for
            )
            if not leased:
                return []
            first = await build_service.first_chunks(session, leased)

        async def lines(licence_id: uuid.UUID, after: str) -> Sequence[Row[Any]]:
            async with sessionmaker() as session, session.begin():
                return await build_service.lines_after(session, licence_id, after)

        async def renew(held: Leased) -> bool:
            async with sessionmaker() as session, session.begin():
                return await build_service.renew(session, held, lease_for=self._lease_for)

        built: list[Built] = []
        for held in leased:
            try:
                built.append(
                    await assemble(
                        held,
                        first[held.licence_id],
                        lines=lines,
                        renew=renew,
                        tools=runtime.tools,
                    )
                )
            except LeaseLost:
                log.warning("delivery.build.lease_lost", delivery_id=str(held.delivery_id))
            except Exception as exc:
                await self._postpone(sessionmaker, held, exc)
        if built:
            await self._issue(sessionmaker, built)
        return [held.delivery_id for held in leased]

    async def _issue(
        self, sessionmaker: async_sessionmaker[AsyncSession], built: Sequence[Built]
    ) -> None:
        """In one transaction; when that fails, each in its own, so that whatever failed
        it postpones only its own delivery."""
        try:
            async with sessionmaker() as session, session.begin():
                for ready in built:
                    await build_service.issue(session, ready)
            return
        except Exception as exc:
            if len(built) == 1:
                await self._postpone(sessionmaker, built[0].leased, exc)
                return
            log.warning("delivery.build.batch_failed", deliveries=len(built), exc_info=True)
        for ready in built:
            try:
                async with sessionmaker() as session, session.begin():
                    await build_service.issue(session, ready)
            except Exception as exc:
                await self._postpone(sessionmaker, ready.leased, exc)

    async def _postpone(
        self, sessionmaker: async_sessionmaker[AsyncSession], leased: Leased, exc: Exception
    ) -> None:
        log.exception("delivery.build.failed", delivery_id=str(leased.delivery_id))
        async with sessionmaker() as session, session.begin():
            await build_service.postpone(
                session,
                leased,
                error=f"{type(exc).__name__}: {exc}",
                max_backoff=self._max_backoff_seconds,
            )
