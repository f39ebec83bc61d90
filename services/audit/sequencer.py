"""The one task that gives pending entries their place in the log and signs checkpoints.

Requests only store pending entries; appending them one by one would make every request
contend for the tree's head. The sequencer instead takes them in batches, in arrival
order, and integrates each batch in one transaction. On PostgreSQL an advisory lock
makes it one per schema, however many replicas run: a replica that finds the lock taken
skips its pass. It runs on the kit's polling worker: a commit of a pending entry wakes
the sequencer of this process at once, a timer wakes it when a checkpoint comes due, and
a poll covers entries other replicas received.
"""

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from assent.protocol import Signer
from services.audit.checkpoint.service import checkpoint_service, published_object
from services.audit.log.cache import HeadCache
from services.audit.log.service import log_service
from services.audit.witnessing.service import witnessing_service
from services.audit.witnessing.submit import Witnessing, WitnessPass, witness_newest
from services.kit.db import utcnow
from services.kit.keyring import Keyring
from services.kit.worker import PollingWorker
from storage.object_store import ObjectStore

log = structlog.get_logger()

# Checkpoints published per pass; a backlog (the store was down) drains over passes.
PUBLISH_BATCH = 100
# How often a pass that signed nothing still looks for checkpoints left unpublished
# (by a replica that died between signing and publishing).
PUBLISH_CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class SequencerRuntime:
    sessionmaker: async_sessionmaker[AsyncSession]
    signer: Signer
    store: ObjectStore
    keyring: Keyring | None = None
    """The checkpoint key's history; None: `signer` alone signs."""

    async def signer_at(self, session: AsyncSession, now: datetime) -> Signer:
        """The checkpoint key valid at `now` (keys rotate)."""
        return self.signer if self.keyring is None else await self.keyring.signer_at(session, now)

    witnessing: Witnessing = field(default_factory=Witnessing)


@dataclass
class SequencerPass:
    """What one pass did."""

    sequenced: int = 0
    signed: list[int] = field(default_factory=list)
    published: list[int] = field(default_factory=list)
    # When entries are left unsigned because the last checkpoint is too recent.
    checkpoint_due_at: datetime | None = None
    # Another replica held the sequencer's lock.
    skipped: bool = False
    # The newest checkpoint's submission to the witnesses, when one was made.
    witnessed: WitnessPass | None = None


class Sequencer:
    """`runtime` is asked afresh for each pass, so what a test swaps in is what is used."""

    def __init__(
        self,
        runtime: Callable[[], SequencerRuntime],
        *,
        batch_size: int,
        poll_seconds: float,
        checkpoint_interval: timedelta,
        gather_seconds: float = 0.1,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        """After a pass that took several entries but less than a batch, the next starts
        `gather_seconds` later: under a stream of events each pass then takes many
        entries in its one transaction, rather than one or two. A pass that failed is
        retried with backoff, at most `max_backoff_seconds` later."""
        self._runtime = runtime
        self._batch_size = batch_size
        self._checkpoint_interval = checkpoint_interval
        self._next_publish_check = -math.inf
        self._next_witness_check = -math.inf
        self._checkpoint_wake: asyncio.TimerHandle | None = None
        # Recent subjects' heads, used only while the log's tree head is the one it
        # last saw (checked under the sequencer's lock at each append).
        self._heads = HeadCache()
        self._worker = PollingWorker(
            self._pass,
            name="audit.sequencer",
            poll_seconds=poll_seconds,
            batch_size=batch_size,
            gather_seconds=gather_seconds,
            max_backoff_seconds=max_backoff_seconds,
        )

    def wake(self) -> None:
        """Sequence now rather than at the next poll (call once a pending entry committed)."""
        self._worker.wake()

    async def run(self) -> None:
        try:
            await self._worker.run()
        finally:
            self._cancel_checkpoint_wake()

    async def _pass(self) -> int:
        done = await self.run_once()
        self._cancel_checkpoint_wake()
        if done.checkpoint_due_at is not None:
            # A checkpoint that comes due before the next poll is signed when it does.
            until_due = (done.checkpoint_due_at - utcnow()).total_seconds()
            self._checkpoint_wake = asyncio.get_running_loop().call_later(
                max(0.0, until_due), self._worker.wake
            )
        return done.sequenced

    def _cancel_checkpoint_wake(self) -> None:
        if self._checkpoint_wake is not None:
            self._checkpoint_wake.cancel()
            self._checkpoint_wake = None

    async def run_once(self) -> SequencerPass:
        """Sequence every pending entry, sign a checkpoint when one is due, and publish
        the checkpoints not yet in the object store."""
        runtime = self._runtime()
        done = SequencerPass()
        while True:
            async with runtime.sessionmaker() as session, session.begin():
                if not await log_service.take_sequencer_lock(session):
                    done.skipped = True
                    break
                sequenced = await log_service.sequence(
                    session, limit=self._batch_size, cache=self._heads
                )
                now = utcnow()
                signer = await runtime.signer_at(session, now)
                due = await checkpoint_service.checkpoint_if_due(
                    session,
                    signer=signer,
                    interval=self._checkpoint_interval,
                    now=now,
                    cache=self._heads,
                )
                if due.signed is not None:
                    # Signed as a C2SP note in the same transaction, with the same key.
                    await witnessing_service.sign_note(
                        session,
                        due.signed,
                        signer=signer,
                        quorum=runtime.witnessing.quorum,
                        now=due.signed.issued_at,
                    )
            done.sequenced += sequenced
            done.checkpoint_due_at = due.due_at
            if due.signed is not None:
                done.signed.append(due.signed.tree_size)
                log.info("audit.checkpoint.signed", tree_size=due.signed.tree_size)
            if sequenced < self._batch_size:
                break
        # Looking for unpublished checkpoints is a transaction of its own: done when this
        # pass signed one, while a backlog remains, and now and then for other replicas'.
        if done.signed or time.monotonic() >= self._next_publish_check:
            done.published = await self.publish(runtime)
        if runtime.witnessing.witnesses and (
            done.signed or time.monotonic() >= self._next_witness_check
        ):
            done.witnessed = await self.witness(runtime)
        return done

    async def witness(self, runtime: SequencerRuntime) -> WitnessPass:
        """Submit the newest note to the witnesses that have not cosigned it; those that
        did not (down, or refusing) are asked again after `retry_seconds`."""
        done = await witness_newest(runtime.sessionmaker, runtime.witnessing)
        self._next_witness_check = (
            time.monotonic() + runtime.witnessing.retry_seconds if done.refused else math.inf
        )
        return done

    async def publish(self, runtime: SequencerRuntime) -> list[int]:
        """Write signed checkpoints to the object store; a failure is retried next pass.

        The object of a size never changes (the size has one signed root), so writing it
        twice, from two replicas or after a crash before the mark, is harmless.
        """
        async with runtime.sessionmaker() as session:
            async with session.begin():
                waiting = await checkpoint_service.unpublished(session, limit=PUBLISH_BATCH)
            published: list[int] = []
            # Until all of them are out, the next pass looks again.
            self._next_publish_check = (
                -math.inf if waiting else time.monotonic() + PUBLISH_CHECK_SECONDS
            )
            for checkpoint in waiting:
                try:
                    await runtime.store.put(
                        checkpoint.object_key,
                        published_object(checkpoint),
                        content_type="application/json",
                    )
                except Exception as exc:
                    log.warning(
                        "audit.checkpoint.publish_failed",
                        tree_size=checkpoint.tree_size,
                        error=f"{type(exc).__name__}: {exc}",
                    )
                    break
                async with session.begin():
                    await checkpoint_service.mark_published(session, checkpoint.tree_size)
                published.append(checkpoint.tree_size)
            return published
