"""The background worker that builds deliveries (see `assemble` for what a build does).

A delivery waits in the database as `building` from the moment its grant commits, so
nothing is lost when a process stops: whichever builder runs next leases it, at once if
it was never leased, or once the lease of a builder that died has run out. A commit that
creates one wakes this process's builder at once; a poll covers the rest (retries, and
grants received by another replica that has since died).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.context import Context, attach, detach, get_current
from opentelemetry.trace import NoOpTracer, StatusCode, Tracer
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.delivery.builder.assemble import BuildTools, Built, Leased, LeaseLost, assemble
from services.delivery.builder.service import build_service
from services.kit.tracing import queued_work_span
from services.kit.worker import PollingWorker
from storage.object_store import ObjectStore, StorageError

log = structlog.get_logger()

# A pass that keeps failing (the database away) is retried at most this far apart.
MAX_PASS_BACKOFF_SECONDS = 30.0
# Builds of one batch run side by side, this many at a time: enough that a slow one
# (thousands of files to check) holds up no other, few enough to bound the calls to
# the object store (each build makes several at once).
BUILDS_AT_ONCE = 8


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
        tracer: Tracer | None = None,
    ) -> None:
        """A pass builds a batch of up to `batch_size` deliveries; a full batch means a
        backlog, and the next pass starts at once. After a pass that built several but
        fewer, the next waits `gather_seconds`: under a stream of sales each batch then
        holds many, and its transactions and its relayed events serve them all
        (bench/purchase.py). A build renews its lease as it goes; one that stalls for
        `lease_seconds` may be taken over by another builder. A build that failed is
        retried with backoff, at most `max_backoff_seconds` later. A build queued by a
        traced request is traced by `tracer` in that request's trace."""
        self._runtime = runtime
        self._tracer = tracer if tracer is not None else NoOpTracer()
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
        """Lease up to `limit` (the batch size) due deliveries and build them side by
        side, each issued as soon as it is built: a slow build holds up only its own
        delivery. Under a stream of sales the lease and the first lines are one
        transaction for many deliveries, and builds finished together are issued
        together; a build that fails is postponed alone."""
        runtime = self._runtime()
        batch = _Batch(runtime.sessionmaker, lease_for=self._lease_for)
        async with batch.transaction() as session:
            leased = await build_service.lease(
                session, limit=limit or self._batch_size, lease_for=self._lease_for
            )
            if not leased:
                return []
            first = await build_service.first_chunks(session, leased)
        batch.held_since(leased)
        builds_at_once = asyncio.Semaphore(BUILDS_AT_ONCE)

        # The signing key is read in the batch's turns, like every transaction of it.
        tools = replace(runtime.tools, keys=runtime.tools.keys.bound(batch.transaction))

        async def build(held: Leased) -> None:
            async with builds_at_once:
                await self._build(batch, tools, held, first[held.licence_id])

        async with asyncio.TaskGroup() as builds:
            for held in leased:
                builds.create_task(build(held))
        return [held.delivery_id for held in leased]

    async def _build(
        self, batch: "_Batch", tools: BuildTools, held: Leased, first: Sequence[Row[Any]]
    ) -> None:
        with queued_work_span(
            self._tracer,
            "delivery build manifest",
            held.trace_parent,
            attributes={
                "assent.delivery.id": str(held.delivery_id),
                "assent.licence.id": str(held.licence_id),
            },
        ):
            try:
                # A build that waited for its turn may find its lease taken over meanwhile.
                if not await batch.keep_lease(held):
                    raise LeaseLost(f"the lease on delivery {held.delivery_id} was taken over")
                built = await assemble(
                    held, first, lines=batch.lines, keep_lease=batch.keep_lease, tools=tools
                )
            except LeaseLost:
                log.warning("delivery.build.lease_lost", delivery_id=str(held.delivery_id))
                return
            except Exception as exc:
                await self._postpone(batch, held, exc)
                return
            for unissued in await batch.issue(built, self._issue):
                await _discard_manifest(tools.store, unissued)

    async def _issue(self, batch: "_Batch", built: Sequence[Built]) -> list[Built]:
        """In one transaction; when that fails, each in its own, so that whatever failed
        it postpones only its own delivery. The builds that were not issued."""
        try:
            async with batch.transaction() as session:
                issued = []
                for ready in built:
                    with batch.traced_as(ready):
                        issued.append(await build_service.issue(session, ready))
            return [ready for ready, event in zip(built, issued, strict=True) if event is None]
        except Exception as exc:
            if len(built) == 1:
                with batch.traced_as(built[0]):
                    await self._postpone(batch, built[0].leased, exc)
                return list(built)
            log.warning("delivery.build.batch_failed", deliveries=len(built), exc_info=True)
        unissued = []
        for ready in built:
            with batch.traced_as(ready):
                try:
                    async with batch.transaction() as session:
                        if await build_service.issue(session, ready) is None:
                            unissued.append(ready)
                except Exception as exc:
                    await self._postpone(batch, ready.leased, exc)
                    unissued.append(ready)
        return unissued

    async def _postpone(self, batch: "_Batch", leased: Leased, exc: Exception) -> None:
        log.exception("delivery.build.failed", delivery_id=str(leased.delivery_id))
        # The build's span, if it is traced, shows it failed (and is retried).
        span = trace.get_current_span()
        span.record_exception(exc)
        span.set_status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}")
        async with batch.transaction() as session:
            await build_service.postpone(
                session,
                leased,
                error=f"{type(exc).__name__}: {exc}",
                max_backoff=self._max_backoff_seconds,
            )


IssueMany = Callable[["_Batch", Sequence[Built]], Awaitable[list[Built]]]


class _Batch:
    """The transactions of one batch's builds. They take turns, each short, so a builder
    holds at most one connection, leaving the pool to requests; the builds' calls to
    the object store overlap."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, lease_for: timedelta
    ) -> None:
        self._sessionmaker = sessionmaker
        self._lease_for = lease_for
        self._turn = asyncio.Lock()
        self._renewed_at: dict[uuid.UUID, float] = {}
        self._ready: list[Built] = []
        self._issuing = asyncio.Lock()
        self._traces: dict[uuid.UUID, Context] = {}

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._turn, self._sessionmaker() as session, session.begin():
            yield session

    def held_since(self, leased: Sequence[Leased]) -> None:
        now = asyncio.get_running_loop().time()
        self._renewed_at.update((held.lease_id, now) for held in leased)

    async def keep_lease(self, held: Leased) -> bool:
        """Renewed once half of it has passed, so a batch that takes longer than one
        lease keeps what it has not built yet; another builder takes over only a build
        that stalled."""
        now = asyncio.get_running_loop().time()
        if now - self._renewed_at[held.lease_id] < self._lease_for.total_seconds() / 2:
            return True
        async with self.transaction() as session:
            kept = await build_service.renew(session, held, lease_for=self._lease_for)
        self._renewed_at[held.lease_id] = now
        return kept

    async def lines(self, licence_id: uuid.UUID, after: str) -> Sequence[Row[Any]]:
        async with self.transaction() as session:
            return await build_service.lines_after(session, licence_id, after)

    async def issue(self, built: Built, issue_many: IssueMany) -> list[Built]:
        """Issue `built` at once, with whatever else finished while the last issue
        committed (builds finished together share a transaction); the builds of that
        transaction that were not issued."""
        self._traces[built.leased.lease_id] = get_current()
        self._ready.append(built)
        async with self._issuing:
            if not self._ready:
                return []  # issued with the builds before it, by the one that went first
            ready, self._ready = self._ready, []
            return await issue_many(self, ready)

    @contextmanager
    def traced_as(self, built: Built) -> Iterator[None]:
        """Inside: the trace context `built` was built in (its build's span, or none), so
        what its issue writes (queries, the `delivery.issued` event) joins its own build's
        trace, or none, whichever build's task issues it."""
        token = attach(self._traces[built.leased.lease_id])
        try:
            yield
        finally:
            detach(token)


async def _discard_manifest(store: ObjectStore, unissued: Built) -> None:
    """A manifest no delivery points at (its build lost the lease or failed to issue),
    and the buyer's copies that build stored."""
    keys = [*unissued.copy_keys]
    if unissued.manifest_key is not None:
        keys.append(unissued.manifest_key)
    for key in keys:
        try:
            await store.delete(key)
        except StorageError:
            log.warning("delivery.build.manifest_left", key=key, exc_info=True)
