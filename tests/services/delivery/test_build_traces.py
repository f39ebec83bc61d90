"""A delivery's build is traced in the trace of the request that queued it (the grant
received), when that request was traced: a span of its own, its queries beneath it, and
the `delivery.issued` event it writes carrying that trace on to the receivers. A build
queued by a request that was not traced leaves no span at all. The delivery app exports
to the SDK's in-memory exporter, which stands in for a collector here; the whole-stack
test (tests/e2e/test_stack_traces.py) exports over OTLP from real processes."""

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import Use
from services.contracts.events import Topic
from services.contracts.licensing import LicenceGranted
from services.delivery.app import create_app
from services.delivery.builder import DeliveryBuilder
from services.kit.client import HttpxTransport
from services.kit.outbox import OutboxDelivery
from services.kit.tracing import Tracing
from storage import StorageSettings
from tests.fixtures.database import join_test_transaction
from tests.services.catalogue.helpers import Actor, Api
from tests.services.delivery.conftest import catalogue_client, delivery_settings
from tests.services.delivery.helpers import (
    LICENSING,
    envelope_of,
    headers,
    licence_granted,
    licence_line,
)

BUILD_SPAN = "delivery build manifest"
UNTRACED_BUILDS = 5


def traceparent(*, sampled: bool) -> tuple[int, str]:
    """A caller's trace id and the `traceparent` it sends, traced or not."""
    trace_id = int.from_bytes(os.urandom(16)) or 1
    flags = "01" if sampled else "00"
    return trace_id, f"00-{trace_id:032x}-{os.urandom(8).hex()}-{flags}"


@dataclass
class TracedDelivery:
    app: FastAPI
    spans: InMemorySpanExporter

    @property
    def builder(self) -> DeliveryBuilder:
        built: DeliveryBuilder = self.app.state.builder
        return built

    async def grant(self, granted: LicenceGranted, *, trace_parent: str) -> None:
        """Licensing's relay delivering the grant, in the trace `trace_parent` names."""
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://delivery.internal"
        ) as http:
            answered = await http.post(
                "/internal/events",
                json=envelope_of(Topic.LICENCE_GRANTED, granted),
                headers={**headers(LICENSING), "traceparent": trace_parent},
            )
        assert answered.status_code == 200, answered.text

    async def build_as_the_worker_does(self) -> list[uuid.UUID]:
        # The worker runs each pass with the instrumentations suppressed: a traced build
        # must lift that for itself, an untraced one must stay under it.
        with suppress_instrumentation():
            return await self.builder.build_pending()

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans.get_finished_spans() if span.name == name]


@pytest.fixture
async def traced(
    migrated_postgres: str,
    shared_storage_settings: StorageSettings,
    catalogue_app: FastAPI,
    session: AsyncSession,
) -> AsyncIterator[TracedDelivery]:
    spans = InMemorySpanExporter()
    tracing = Tracing("delivery", [spans], batch=False)
    app = create_app(delivery_settings(migrated_postgres), shared_storage_settings, tracing=tracing)
    await app.state.http.aclose()
    app.state.http = HttpxTransport(catalogue_client(catalogue_app))
    await join_test_transaction(app, session)
    # The app's queries run on the test's connection: traced as the app's engine is.
    tracing.instrument_engine((await session.connection()).engine)
    try:
        yield TracedDelivery(app, spans)
    finally:
        await app.state.object_store.close()
        await app.state.http.aclose()
        await app.state.engine.dispose()
        await tracing.shutdown()


async def delivery_id_of(session: AsyncSession, licence_id: uuid.UUID) -> str:
    """From the `delivery.issued` event the build wrote (so the build did run)."""
    events = await session.scalars(
        select(OutboxDelivery).where(OutboxDelivery.topic == Topic.DELIVERY_ISSUED)
    )
    (delivery_id,) = {
        event.payload["delivery_id"]
        for event in events
        if event.payload["licence_id"] == str(licence_id)
    }
    return str(delivery_id)


async def issued_trace_parents(session: AsyncSession, delivery_id: str) -> set[str | None]:
    """The traces the `delivery.issued` event of `delivery_id` goes out in (a row a receiver)."""
    events = await session.scalars(
        select(OutboxDelivery).where(OutboxDelivery.topic == Topic.DELIVERY_ISSUED)
    )
    return {event.trace_parent for event in events if event.payload["delivery_id"] == delivery_id}


def _is_query(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    return "db.system" in attributes or "db.system.name" in attributes


async def test_a_build_queued_by_a_traced_request_is_traced_in_its_trace(
    traced: TracedDelivery, catalogue: Api, ines: Actor, lab: Actor, session: AsyncSession
) -> None:
    work = await catalogue.listed_work(ines, os.urandom(2_000), Use.TRAINING)
    granted = licence_granted(lab, [licence_line(work)])
    trace_id, trace_parent = traceparent(sampled=True)
    await traced.grant(granted, trace_parent=trace_parent)

    await traced.build_as_the_worker_does()

    delivery_id = await delivery_id_of(session, granted.licence_id)
    (build,) = traced.named(BUILD_SPAN)
    assert build.context is not None
    assert build.context.trace_id == trace_id
    assert build.kind is SpanKind.INTERNAL
    assert build.attributes is not None
    assert build.attributes["assent.delivery.id"] == delivery_id
    assert build.attributes["assent.licence.id"] == str(granted.licence_id)
    # Under the span of the request that received the grant.
    (received,) = traced.named("POST /internal/events")
    assert build.parent is not None
    assert received.context is not None
    assert (build.parent.trace_id, build.parent.span_id) == (trace_id, received.context.span_id)
    # Its queries (reading lines, issuing) are timed beneath it, the pass's suppression lifted.
    beneath = [
        span
        for span in traced.spans.get_finished_spans()
        if _is_query(span)
        and span.parent is not None
        and span.parent.span_id == build.context.span_id
    ]
    assert beneath
    # Its event carries the trace on, so licensing's and the audit log's receipt join it.
    (sent_in,) = await issued_trace_parents(session, delivery_id)
    assert sent_in is not None
    _, sent_trace, _, flags = sent_in.split("-")
    assert (int(sent_trace, 16), flags) == (trace_id, "01")


async def test_a_build_queued_by_an_untraced_request_leaves_no_span_at_all(
    traced: TracedDelivery, catalogue: Api, ines: Actor, lab: Actor, session: AsyncSession
) -> None:
    """Even when it is built in the same pass as a traced build, and issued with it (builds
    finished together are issued in one transaction, by whichever build's task is first)."""
    grants = [
        licence_granted(
            lab,
            [
                licence_line(
                    await catalogue.listed_work(ines, os.urandom(2_000 + index), Use.TRAINING)
                )
            ],
        )
        for index in range(UNTRACED_BUILDS + 1)
    ]
    traced_id, traced_parent = traceparent(sampled=True)
    # The traced grant in the middle, so builds finish on either side of it.
    traced_grant = grants[len(grants) // 2]
    for granted in grants:
        await traced.grant(
            granted,
            trace_parent=traced_parent
            if granted is traced_grant
            else traceparent(sampled=False)[1],
        )

    assert len(await traced.build_as_the_worker_does()) == len(grants)

    spans = traced.spans.get_finished_spans()
    assert {span.context.trace_id for span in spans if span.context is not None} == {traced_id}
    (build,) = traced.named(BUILD_SPAN)
    assert build.attributes is not None
    assert build.attributes["assent.licence.id"] == str(traced_grant.licence_id)
    for granted in grants:
        (sent_in,) = await issued_trace_parents(
            session, await delivery_id_of(session, granted.licence_id)
        )
        if granted is traced_grant:
            assert sent_in is not None
            assert sent_in.endswith("-01")
        else:
            # Licensing and the audit log are told not to trace their receipt either.
            assert sent_in is None or sent_in.endswith("-00")


async def test_grants_relayed_together_are_each_built_in_their_own_purchases_trace(
    traced: TracedDelivery, catalogue: Api, ines: Actor, lab: Actor, session: AsyncSession
) -> None:
    """Licensing's relay sends grants of many purchases in one request, traced (and linked
    to each) when any of them is. Each build follows its own purchase: one in twenty
    traced must not have every build of its batch traced with it."""
    grants = [
        licence_granted(
            lab,
            [licence_line(await catalogue.listed_work(ines, os.urandom(3_000 + i), Use.TRAINING))],
        )
        for i in range(4)
    ]
    purchase_trace, purchase_parent = traceparent(sampled=True)
    _, relay_parent = traceparent(sampled=True)
    parents = [traceparent(sampled=False)[1] for _ in grants]
    parents[1] = purchase_parent
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=traced.app), base_url="http://delivery.internal"
    ) as http:
        answered = await http.post(
            "/internal/events/batch",
            json={
                "events": [envelope_of(Topic.LICENCE_GRANTED, granted) for granted in grants],
                "trace_parents": parents,
            },
            headers={**headers(LICENSING), "traceparent": relay_parent},
        )
    assert answered.status_code == 200, answered.text

    await traced.build_as_the_worker_does()

    (build,) = traced.named(BUILD_SPAN)
    assert build.context is not None
    assert build.context.trace_id == purchase_trace
    assert build.attributes is not None
    assert build.attributes["assent.licence.id"] == str(grants[1].licence_id)
    for granted, parent in zip(grants, parents, strict=True):
        (sent_in,) = await issued_trace_parents(
            session, await delivery_id_of(session, granted.licence_id)
        )
        if parent is purchase_parent:
            assert sent_in is not None
            assert int(sent_in.split("-")[1], 16) == purchase_trace
        else:
            assert sent_in is None or sent_in.endswith("-00")
