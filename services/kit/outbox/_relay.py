"""The relay: delivers each outbox row to its receiving service at least once, in order.

Every receiver is its own stream, so a receiver that hangs holds up only itself. A
stream claims a lease on a batch of its receiver's due rows in a short transaction,
sends them with no transaction open, and records the outcome in another short one: no
database lock is held across a call to another process, and relays in several processes
share the work safely. A receiver's next batch is claimed only once its previous one
is acknowledged or its lease has lapsed, so each receiver gets its events in order.

That order is the rows' ids, the order they were inserted in. On SQLite, one writer at
a time, it is the commit order. On PostgreSQL two transactions insert side by side: a
row whose transaction commits first may hold the higher id, be claimed while the lower
one is still uncommitted and so invisible, and be delivered before it. Across
concurrent transactions the order is therefore only approximately the commit order.
It is exact for the rows of one transaction, and for transactions serialised by a
lock taken before they insert: licensing writes a sale's rows and a sale scope's rows
of the same work under that work's advisory lock, held until commit, so the later
transaction draws its ids only after the earlier one has committed and their order is
the commit order the audit log's "no sale after withdrawal" rule reads. Holding back
every row newer than the oldest transaction still running would make the order exact
everywhere, but needs the inserting transaction's id stored with each row (compared
with `pg_snapshot_xmin(pg_current_snapshot())` at claim), a column in every service's
outbox table.
"""

import asyncio
import functools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import takewhile
from typing import cast

import orjson
import structlog
from opentelemetry.trace import NoOpTracer, Tracer
from sqlalchemy import Table, and_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.contracts.events import EventEnvelope, Topic, receivers_of
from services.kit.client import Transport, TransportFailed
from services.kit.db import utcnow
from services.kit.internal_token import TokenSigner
from services.kit.outbox._tables import OutboxDelivery
from services.kit.outbox._wakeups import RelayWakeups
from services.kit.tracing import TRACEPARENT, sending_span
from services.kit.worker import PollingWorker

log = structlog.get_logger()

_TABLE = cast(Table, OutboxDelivery.__table__)
# The part of a lease a relay may spend sending: it stops before its lease lapses, so
# no other relay is sending the same rows while it still is.
_SENDING_SHARE_OF_LEASE = 0.8
# A stream is woken by a commit in this process or by the relay's probe, which looks for
# every stream's due rows in one query each poll: a stream's own poll is a safety net.
_STREAM_SAFETY_POLL_SECONDS = 60.0


def backoff(attempts: int, *, max_seconds: float) -> timedelta:
    """Exponential with full jitter, so a recovering receiver is not hit by a stampede."""
    ceiling = min(max_seconds, 0.5 * 2 ** min(attempts, 20))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


# The body of POST /internal/events/batch (`EventBatch`) around envelopes serialised once.
_BATCH_OPEN = b'{"events":['
_BATCH_CLOSE = b"]}"
# Or, where an event was written in a traced request, closed with each event's
# `traceparent` (`EventBatch.trace_parents`): some 60 bytes an event, which the bound on
# the events' bytes leaves room for under the receiver's cap.
_TRACED_BATCH_CLOSE = b'],"trace_parents":'


@dataclass(frozen=True)
class _Failure:
    error: str
    # The receiver answered and refuses the request itself: resending it as is will not help.
    refused: bool = False


@dataclass
class _Progress:
    """How many of a claim's rows, from its head, the receiver has acknowledged."""

    acknowledged: int = 0


@dataclass(frozen=True)
class _Claim:
    """A receiver's rows, oldest first, leased to this relay until `leased_until`."""

    destination: str
    rows: list[OutboxDelivery]
    leased_until: datetime


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        source: str,
        destinations: Mapping[str, str],
        signer: TokenSigner,
        http: Transport,
        poll_seconds: float = 0.5,
        max_backoff_seconds: float = 300.0,
        batch_size: int = 100,
        max_batch_bytes: int = 512 * 1024,
        gather_seconds: float = 0.05,
        lease_seconds: float = 60.0,
        wakeups: RelayWakeups | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        """`batch_size` bounds the rows a stream claims at once, and so the events per
        request; `max_batch_bytes` keeps a request well under a receiver's body cap
        (1 MiB by default), though one event alone is sent whatever its size. After a
        pass that relayed several events, a stream's next starts `gather_seconds` after
        it: under a stream of commits each request then carries many events, not one
        (every request is a transaction at the receiver). A claim lasts `lease_seconds`:
        the relay stops sending at 80 % of it, and a crashed relay's claim is taken over
        once it lapses. A running stream listens on `wakeups`, the hub the service's
        sessions wake on commit; rows it does not announce (written by another process, a
        retry come due, a lapsed lease) are found by one probe of every stream's due rows
        each `poll_seconds`. Each request is sent under a span of `tracer`."""
        self._sessionmaker = sessionmaker
        self._source = source
        self._destinations = destinations
        self._signer = signer
        self._http = http
        self._poll_seconds = poll_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self._batch_size = batch_size
        self._max_batch_bytes = max_batch_bytes
        self._gather_seconds = gather_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._tracer = tracer if tracer is not None else NoOpTracer()
        self._wakeups = wakeups if wakeups is not None else RelayWakeups()
        # Every receiver of what this service publishes, reachable or not (a row for one
        # it cannot reach is kept with the reason).
        self._streams = sorted(receivers_of(source))

    async def run(self) -> None:
        streams = {
            destination: PollingWorker(
                functools.partial(self.relay_stream_once, destination),
                name=f"outbox.{self._source}.{destination}",
                poll_seconds=_STREAM_SAFETY_POLL_SECONDS,
                batch_size=self._batch_size,
                gather_seconds=self._gather_seconds,
                max_backoff_seconds=min(30.0, self._max_backoff_seconds),
            )
            for destination in self._streams
        }
        if not streams:
            return
        probe = PollingWorker(
            functools.partial(self._wake_due_streams, streams),
            name=f"outbox.{self._source}.probe",
            poll_seconds=self._poll_seconds,
            batch_size=len(streams) + 1,
            max_backoff_seconds=min(30.0, self._max_backoff_seconds),
        )
        for destination, stream in streams.items():
            self._wakeups.listen(destination, stream)
        try:
            async with asyncio.TaskGroup() as workers:
                for destination, stream in streams.items():
                    workers.create_task(stream.run(), name=f"outbox-relay-{destination}")
                workers.create_task(probe.run(), name="outbox-relay-probe")
        finally:
            for destination, stream in streams.items():
                self._wakeups.forget(destination, stream)

    async def _wake_due_streams(self, streams: Mapping[str, PollingWorker]) -> int:
        """One query a poll for every stream: wake those whose receiver has due rows (rows
        another process wrote, a retry whose backoff has passed, a lapsed lease). A commit
        in this process wakes its receivers' streams itself."""
        async with self._sessionmaker() as session:
            due = (
                await session.scalars(
                    select(OutboxDelivery.destination)
                    .where(OutboxDelivery.delivered_at.is_(None))
                    .where(OutboxDelivery.next_attempt_at <= utcnow())
                    .distinct()
                )
            ).all()
        for destination in due:
            stream = streams.get(destination)
            if stream is not None:
                stream.wake()
        return 0

    async def relay_once(self) -> int:
        """One pass of every receiver's stream, side by side; returns how many events
        were delivered."""
        delivered = await asyncio.gather(*map(self.relay_stream_once, self._streams))
        return sum(delivered)

    async def relay_stream_once(self, destination: str) -> int:
        """Claim, send and settle one batch of `destination`'s due events; returns how
        many were delivered."""
        claim = await self._claim(destination)
        if claim is None:
            return 0
        delivered, failure = await self._send_claimed(claim)
        await self._settle(claim, delivered, failure)
        return delivered

    async def _claim(self, destination: str) -> _Claim | None:
        """Lease the due rows at the head of `destination`'s queue. A row that waits for
        a retry, or is leased by another relay, holds back every later one."""
        async with self._sessionmaker() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                # Claims of one receiver's rows take turns, so two relays never lease
                # consecutive batches side by side (SQLite's write lock already does).
                await session.execute(
                    text(
                        "SELECT pg_advisory_xact_lock(hashtext("
                        "'assent.outbox.' || current_schema() || '.' || :destination))"
                    ),
                    {"destination": destination},
                )
            now = utcnow()
            head = (
                await session.scalars(
                    select(OutboxDelivery)
                    .where(OutboxDelivery.destination == destination)
                    .where(OutboxDelivery.delivered_at.is_(None))
                    .order_by(OutboxDelivery.id)
                    .limit(self._batch_size)
                )
            ).all()
            due = list(takewhile(lambda row: row.next_attempt_at <= now, head))
            if not due:
                return None
            leased_until = now + self._lease
            await session.execute(
                update(_TABLE)
                .where(_TABLE.c.id.in_([row.id for row in due]))
                .values(next_attempt_at=leased_until)
            )
        return _Claim(destination, due, leased_until)

    async def _send_claimed(self, claim: _Claim) -> tuple[int, str | None]:
        """Send the claimed rows, outside any transaction, until the lease's sending
        share is spent; returns how many the receiver acknowledged, and why the rest
        were not."""
        # Counted outside the timeout: requests acknowledged before a later one ran out
        # of time stay delivered.
        progress = _Progress()
        try:
            async with asyncio.timeout(self._lease.total_seconds() * _SENDING_SHARE_OF_LEASE):
                failure = await self._deliver_in_order(claim.destination, claim.rows, progress)
        except TimeoutError:
            failure = "no answer within the relay's lease"
        return progress.acknowledged, failure

    async def _settle(self, claim: _Claim, delivered: int, failure: str | None) -> None:
        """Mark what was delivered, and reschedule the rest after a backoff unless the
        lease has passed to another relay meanwhile."""
        async with self._sessionmaker() as session, session.begin():
            if delivered:
                now = utcnow()
                # The lease ends with the delivery.
                await session.execute(
                    update(_TABLE)
                    .where(_TABLE.c.id.in_([row.id for row in claim.rows[:delivered]]))
                    .where(_TABLE.c.delivered_at.is_(None))
                    .values(delivered_at=now, next_attempt_at=now)
                )
            rest = claim.rows[delivered:]
            if failure is None or not rest:
                return
            head = rest[0]
            retry_at = utcnow() + backoff(head.attempts + 1, max_seconds=self._max_backoff_seconds)
            still_ours = and_(
                _TABLE.c.next_attempt_at == claim.leased_until, _TABLE.c.delivered_at.is_(None)
            )
            # Keep a receiver's events in order: the rest of the batch waits for the
            # failed one's retry.
            for rows, error in (([head], failure), (rest[1:], "waiting for an earlier event")):
                if rows:
                    await session.execute(
                        update(_TABLE)
                        .where(_TABLE.c.id.in_([row.id for row in rows]))
                        .where(still_ours)
                        .values(
                            attempts=_TABLE.c.attempts + 1,
                            next_attempt_at=retry_at,
                            last_error=error,
                        )
                    )
        log.warning(
            "outbox.delivery.retry",
            destination=head.destination,
            topic=head.topic,
            event_id=str(head.event_id),
            attempts=head.attempts + 1,
            error=failure,
        )

    async def _deliver_in_order(
        self, destination: str, rows: list[OutboxDelivery], progress: _Progress
    ) -> str | None:
        """Send one receiver's rows, oldest first, in as few requests as the bounds allow,
        counting in `progress` the rows the receiver acknowledged; returns why the next
        one was not."""
        base_url = self._destinations.get(destination)
        if base_url is None:
            return f"no address configured for {destination}"
        bodies, unreadable = self._serialise(rows)
        for end in self._batch_ends(bodies):
            start = progress.acknowledged
            failure = await self._send(base_url, rows[start:end], bodies[start:end])
            if failure is not None and failure.refused and end - start > 1:
                # Find out which event the receiver refuses, and deliver the ones before
                # it; this also serves a receiver not yet upgraded to the batch endpoint.
                log.warning(
                    "outbox.delivery.batch_refused",
                    destination=destination,
                    events=end - start,
                    error=failure.error,
                )
                for row, body in zip(rows[start:end], bodies[start:end], strict=True):
                    failure = await self._send(base_url, [row], [body])
                    if failure is not None:
                        break
                    progress.acknowledged += 1
            if failure is not None:
                return failure.error
            progress.acknowledged = end
        return unreadable

    def _serialise(self, rows: list[OutboxDelivery]) -> tuple[list[bytes], str | None]:
        """The envelopes of the rows up to the first this version cannot read, and why
        that one cannot be read."""
        bodies: list[bytes] = []
        for row in rows:
            try:
                envelope = EventEnvelope(
                    id=row.event_id,
                    topic=Topic(row.topic),
                    source=self._source,
                    occurred_at=row.occurred_at,
                    payload=row.payload,
                )
            except ValueError as exc:
                # A row this version cannot read (e.g. a topic since removed) must not
                # stop the relay for other receivers; it holds up its own receiver only.
                log.error("outbox.delivery.unreadable", event_id=str(row.event_id), error=str(exc))
                return bodies, f"unreadable: {exc}"
            bodies.append(envelope.model_dump_json().encode())
        return bodies, None

    def _batch_ends(self, bodies: list[bytes]) -> list[int]:
        """Where each request's events end: at most `max_batch_bytes` of body, but always
        at least one event. (A claim holds at most `batch_size` rows, so no request
        carries more events than that.)"""
        ends: list[int] = []
        start, size = 0, len(_BATCH_OPEN) + len(_BATCH_CLOSE)
        for index, body in enumerate(bodies):
            added = len(body) + (index > start)  # and a comma after the previous one
            if index > start and size + added > self._max_batch_bytes:
                ends.append(index)
                start, size, added = index, len(_BATCH_OPEN) + len(_BATCH_CLOSE), len(body)
            size += added
        if bodies:
            ends.append(len(bodies))
        return ends

    async def _send(
        self, base_url: str, rows: list[OutboxDelivery], bodies: list[bytes]
    ) -> _Failure | None:
        """POST one event to the single endpoint, or several to the batch endpoint."""
        head = rows[0]
        trace_parents = [row.trace_parent for row in rows]
        if len(bodies) == 1:
            path, content = "/internal/events", bodies[0]
        else:
            close = _BATCH_CLOSE
            if any(trace_parents):
                close = _TRACED_BATCH_CLOSE + orjson.dumps(trace_parents) + b"}"
            path, content = "/internal/events/batch", _BATCH_OPEN + b",".join(bodies) + close
        token = self._signer.sign_as_service(audience=head.destination)
        try:
            with sending_span(self._tracer, head.destination, trace_parents) as sent_in:
                headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
                if sent_in is not None:
                    headers[TRACEPARENT] = sent_in
                response = await self._http.send(
                    "POST", base_url.rstrip("/") + path, content=content, headers=headers
                )
        except TransportFailed as exc:
            return _Failure(str(exc))
        if response.status_code == 200:
            return None
        refused = 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429)
        if refused and len(rows) == 1:
            # The receiver refuses this event: retrying will not help until someone
            # deploys a fix, but skipping it would break the receiver's order (the audit
            # chain). It stays at the head of the queue, retried with backoff, loud in
            # the logs and in the outbox backlog of /v1/status.
            log.error(
                "outbox.delivery.rejected",
                destination=head.destination,
                topic=head.topic,
                event_id=str(head.event_id),
                status=response.status_code,
            )
        return _Failure(f"HTTP {response.status_code}: {response.text[:500]}", refused=refused)
