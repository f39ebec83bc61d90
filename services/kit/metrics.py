"""Each process's Prometheus metrics (prometheus-client), served on a port of their own,
on loopback unless told otherwise: never on the public port, so the gateway's callers
cannot read them. Off (no middleware, no sampling) while the port is 0.

- `assent_http_requests_total` and `assent_http_request_seconds`: every answer, by route
  template (never the raw path, whose ids would make a series per object) and status;
- `assent_graphql_operations_total` and `assent_graphql_operation_seconds` (the gateway):
  by operation type and first root field, which the schema bounds (a client's operation
  name would not be);
- `assent_outbox_backlog` and `assent_outbox_oldest_seconds`: per receiver, sampled;
- `assent_db_connections_in_use`: checked out of this process's pool, sampled.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.contracts.events import receivers_of
from services.kit.outbox import OutboxDelivery

log = structlog.get_logger()

Sampler = Callable[[AsyncSession], Awaitable[None]]
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ProcessMetrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "assent_http_requests",
            "HTTP requests answered, by route template and status",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "assent_http_request_seconds",
            "Time to answer an HTTP request, by route template",
            ["service", "method", "route"],
            buckets=SECONDS,
            registry=self.registry,
        )
        self.graphql_operations = Counter(
            "assent_graphql_operations",
            "GraphQL operations, by type and first root field, and whether they erred",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.graphql_seconds = Histogram(
            "assent_graphql_operation_seconds",
            "Time to run a GraphQL operation, by type and first root field",
            ["operation"],
            buckets=SECONDS,
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "assent_outbox_backlog",
            "Events written and not yet delivered, per receiver",
            ["service", "receiver"],
            registry=self.registry,
        )
        self.outbox_oldest_seconds = Gauge(
            "assent_outbox_oldest_seconds",
            "Age of the oldest undelivered event, per receiver",
            ["service", "receiver"],
            registry=self.registry,
        )
        self.db_connections_in_use = Gauge(
            "assent_db_connections_in_use",
            "Database connections checked out of this process's pool",
            ["service"],
            registry=self.registry,
        )
        # Every receiver answers, 0 when nothing waits for it, not nothing.
        self._receivers_seen: set[str] = set(receivers_of(service))
        self._samplers: list[Sampler] = []

    def add_sampler(self, sampler: "Sampler") -> None:
        """A service's own figures, read from its database with the others."""
        self._samplers.append(sampler)

    def serve(self, host: str, port: int) -> Callable[[], None]:
        """Serves `/metrics` on its own port; returns what stops it."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        log.info("metrics.serving", host=host, port=port)

        def stop() -> None:
            server.shutdown()
            thread.join(timeout=5)

        return stop

    async def sample(
        self, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        """The outbox's backlog per receiver, and the pool's connections in use."""
        pool = engine.pool
        if isinstance(pool, QueuePool):
            self.db_connections_in_use.labels(self.service).set(pool.checkedout())
        async with sessionmaker() as session:
            rows = await session.execute(
                select(
                    OutboxDelivery.destination,
                    func.count(),
                    func.min(OutboxDelivery.occurred_at),
                )
                .where(OutboxDelivery.delivered_at.is_(None))
                .group_by(OutboxDelivery.destination)
            )
            found = {destination: (count, oldest) for destination, count, oldest in rows.all()}
        now = datetime.now(UTC)
        for receiver in set(found) | self._receivers_seen:
            count, oldest = found.get(receiver, (0, None))
            self.outbox_backlog.labels(self.service, receiver).set(count)
            age = (now - oldest).total_seconds() if oldest is not None else 0.0
            self.outbox_oldest_seconds.labels(self.service, receiver).set(age)
        self._receivers_seen |= set(found)
        for sampler in self._samplers:
            async with sessionmaker() as session:
                await sampler(session)

    async def sample_every(
        self,
        seconds: float,
        engine: AsyncEngine,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
    ) -> None:
        while True:
            try:
                await self.sample(engine, sessionmaker())
            except Exception:
                log.warning("metrics.sample_failed", exc_info=True)
            await asyncio.sleep(seconds)


class MetricsMiddleware:
    """Counts and times every HTTP answer by its route's template."""

    def __init__(self, app: ASGIApp, metrics: ProcessMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route == "":
                # A router's root route, included under a prefix (GraphQL's): its path
                # is that prefix alone, no id in it.
                route = scope["path"]
            route = route or "unmatched"
            method = scope["method"]
            service = self.metrics.service
            self.metrics.requests.labels(service, method, route, str(status)).inc()
            self.metrics.request_seconds.labels(service, method, route).observe(
                time.perf_counter() - started
            )
