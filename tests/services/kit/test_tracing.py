"""Traces across the kit: a request, its queries, the outbox event it writes, the relay's
call and the receiver's work, in one trace. Two kit apps in this process (a sender in the
catalogue schema, a receiver in the audit schema, served over real HTTP on loopback)
export to the SDK's in-memory exporter, which stands in for a collector here; the
whole-stack test (tests/e2e/test_stack_traces.py) exports over OTLP from real processes."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, Depends, FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.events import PUBLISHERS, SUBSCRIBERS, AccountRegistered, EventEnvelope
from services.kit.app import create_service_app
from services.kit.client import AiohttpTransport
from services.kit.db import get_session
from services.kit.outbox import InboxEvent, OutboxDelivery, OutboxRelay, emit
from services.kit.settings import ServiceSettings
from services.kit.tracing import Tracing, UnknownSampler, UnknownSpanExporter
from tests.fixtures.internal_keys import key_settings, signer
from tests.fixtures.storage import free_port

# One the catalogue, whose relay the test runs, publishes.
AUDIT_ONLY_TOPIC = next(
    topic
    for topic, receivers in SUBSCRIBERS.items()
    if receivers == ("audit",) and PUBLISHERS[topic] == "catalogue"
)


def _settings(database_url: str, schema: str) -> ServiceSettings:
    return ServiceSettings.model_validate(
        {
            "database_url": database_url,
            "database_schema": schema,
            "database_pool_size": 2,
            **key_settings(schema),
        }
    )


@dataclass
class Traced:
    sender: FastAPI
    relay: OutboxRelay
    spans: InMemorySpanExporter
    received: list[EventEnvelope]
    event_ids: list[uuid.UUID]
    traces: list[int] = field(default_factory=list)

    async def write_event(self) -> int:
        """One request that writes an event; returns its trace id."""
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.sender), base_url="http://catalogue"
        ) as http:
            answered = await http.post("/test/events")
        assert answered.status_code == 200
        self.event_ids.append(uuid.UUID(answered.json()["event_id"]))
        (served,) = [
            span.context.trace_id
            for span in self.spans.get_finished_spans()
            if span.name == "POST /test/events"
            and span.kind.name == "SERVER"
            and span.context is not None
            and span.context.trace_id not in self.traces
        ]
        self.traces.append(served)
        return int(served)

    def of_trace(self, trace_id: int) -> list[ReadableSpan]:
        return [
            span
            for span in self.spans.get_finished_spans()
            if span.context is not None and span.context.trace_id == trace_id
        ]


def _service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


def _is_query(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    return "db.system" in attributes or "db.system.name" in attributes


@pytest.fixture
async def traced(migrated_postgres: str) -> AsyncIterator[Traced]:
    spans = InMemorySpanExporter()
    received: list[EventEnvelope] = []
    event_ids: list[uuid.UUID] = []

    router = APIRouter()

    @router.post("/test/events")
    async def write(
        session: AsyncSession = Depends(get_session, scope="function"),
    ) -> dict[str, str]:
        event = AccountRegistered(account_id=uuid.uuid4(), name="Traced Lab", roles=["buyer"])
        return {"event_id": str(emit(session, AUDIT_ONLY_TOPIC, event))}

    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        received.append(envelope)

    sending = Tracing("catalogue", [spans], batch=False)
    sender = create_service_app(
        "catalogue",
        _settings(migrated_postgres, "catalogue"),
        routers=[router],
        tracing=sending,
    )
    receiver = create_service_app(
        "audit",
        _settings(migrated_postgres, "audit"),
        event_handlers={AUDIT_ONLY_TOPIC: handle},
        tracing=Tracing("audit", [spans], batch=False),
    )
    port = free_port()
    # Served in this event loop without its lifespan: the relay is driven by the test.
    server = uvicorn.Server(
        uvicorn.Config(
            receiver, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
        )
    )
    serving = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    http = AiohttpTransport(sending.client_trace_configs())
    relay = OutboxRelay(
        sender.state.sessionmaker,
        source="catalogue",
        destinations={"audit": f"http://127.0.0.1:{port}"},
        signer=signer("catalogue"),
        http=http,
        tracer=sending.tracer,
        gather_seconds=0,
    )
    try:
        yield Traced(sender, relay, spans, received, event_ids)
    finally:
        server.should_exit = True
        await serving
        await http.aclose()
        async with sender.state.sessionmaker() as session:
            await session.execute(
                delete(OutboxDelivery).where(OutboxDelivery.event_id.in_(event_ids))
            )
            await session.commit()
        async with receiver.state.sessionmaker() as session:
            await session.execute(delete(InboxEvent).where(InboxEvent.event_id.in_(event_ids)))
            await session.commit()
        for app in (sender, receiver):
            await app.state.http.aclose()
            await app.state.engine.dispose()


async def test_a_request_and_the_event_it_writes_are_received_in_one_trace(
    traced: Traced,
) -> None:
    trace_id = await traced.write_event()
    assert await traced.relay.relay_stream_once("audit") >= 1

    spans = traced.of_trace(trace_id)
    by_service = {(_service(span), span.kind.name) for span in spans}
    assert ("catalogue", "SERVER") in by_service  # the request
    assert ("catalogue", "PRODUCER") in by_service  # the relay's send
    assert ("audit", "SERVER") in by_service  # the receiving request
    assert {_service(span) for span in spans if _is_query(span)} == {"catalogue", "audit"}
    assert [envelope.id for envelope in traced.received] == traced.event_ids


async def test_events_of_two_requests_sent_together_are_received_in_both_traces(
    traced: Traced,
) -> None:
    first = await traced.write_event()
    second = await traced.write_event()
    assert await traced.relay.relay_stream_once("audit") >= 2

    (sent,) = [span for span in traced.spans.get_finished_spans() if span.kind.name == "PRODUCER"]
    assert {link.context.trace_id for link in sent.links} >= {first, second}
    for trace_id in (first, second):
        received = [span for span in traced.of_trace(trace_id) if span.name == "outbox receive"]
        assert [_service(span) for span in received] == ["audit"]
    # The batch's request itself, and the receiver's queries, are traced in no one's
    # trace: else each traced request would have the work of every batch it joins.
    assert sent.context is not None
    assert [_service(span) for span in traced.of_trace(sent.context.trace_id)] == ["catalogue"]
    audit_work = [s for s in traced.spans.get_finished_spans() if _service(s) == "audit"]
    assert [span.name for span in audit_work] == ["outbox receive", "outbox receive"]


async def test_a_request_its_caller_does_not_trace_leaves_nothing_traced_behind(
    traced: Traced,
) -> None:
    untraced = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=traced.sender), base_url="http://catalogue"
    ) as http:
        answered = await http.post("/test/events", headers={"traceparent": untraced})
    event_id = uuid.UUID(answered.json()["event_id"])
    traced.event_ids.append(event_id)
    assert await traced.relay.relay_stream_once("audit") >= 1

    assert traced.spans.get_finished_spans() == ()
    assert [envelope.id for envelope in traced.received] == [event_id]
    async with traced.sender.state.sessionmaker() as session:
        row = await session.scalar(
            select(OutboxDelivery).where(OutboxDelivery.event_id == event_id)
        )
    assert row is not None
    assert row.trace_parent is not None
    assert row.trace_parent.split("-")[1] == untraced.split("-")[1]
    assert row.trace_parent.endswith("-00")


async def test_a_query_no_request_asked_for_starts_no_trace(traced: Traced) -> None:
    async with traced.sender.state.sessionmaker() as session:
        await session.execute(select(1))
    assert traced.spans.get_finished_spans() == ()


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"},
    ],
)
def test_tracing_is_off_unless_an_exporter_is_named(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert Tracing.from_environment("catalogue") is None


def test_an_exporter_named_by_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "catalogue-eu-1")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging")
    tracing = Tracing.from_environment("catalogue")
    assert tracing is not None
    attributes = tracing.provider.resource.attributes
    assert attributes["service.name"] == "catalogue-eu-1"
    assert attributes["deployment.environment"] == "staging"


def test_an_unknown_exporter_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(UnknownSpanExporter, match="zipkin"):
        Tracing.from_environment("catalogue")


@pytest.mark.parametrize(
    ("sampler", "argument", "share"),
    [
        (None, None, 1.0),
        ("parentbased_traceidratio", "0.05", 0.05),
        ("traceidratio", "0.25", 0.25),
        ("parentbased_always_off", None, 0.0),
    ],
)
def test_the_share_of_requests_traced_is_the_standard_samplers(
    monkeypatch: pytest.MonkeyPatch, sampler: str | None, argument: str | None, share: float
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    for name, value in (("OTEL_TRACES_SAMPLER", sampler), ("OTEL_TRACES_SAMPLER_ARG", argument)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    tracing = Tracing.from_environment("licensing")
    assert tracing is not None
    assert tracing.share == share


@pytest.mark.parametrize(
    ("sampler", "argument"),
    [("jaeger_remote", None), ("traceidratio", "1.5"), ("traceidratio", "x")],
)
def test_a_sampler_not_offered_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, sampler: str, argument: str | None
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    if argument is not None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", argument)
    with pytest.raises(UnknownSampler, match="OTEL_TRACES_SAMPLER"):
        Tracing.from_environment("licensing")


@pytest.mark.parametrize("share", [0.0, 1.0])
async def test_a_public_app_decides_itself_what_is_traced_whatever_the_caller_sends(
    migrated_postgres: str, share: float
) -> None:
    """A caller asking to be traced (a sampled `traceparent`) is not followed at the
    gateway: with nothing sampled nothing is traced, and a sampled request starts its own
    trace rather than joining the caller's."""
    spans = InMemorySpanExporter()
    router = APIRouter()

    @router.get("/test/public")
    async def public() -> dict[str, str]:
        return {}

    app = create_service_app(
        "gateway",
        _settings(migrated_postgres, "gateway"),
        routers=[router],
        tracing=Tracing("gateway", [spans], share=share, batch=False),
        public=True,
    )
    callers = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as http:
            answered = await http.get("/test/public", headers={"traceparent": callers})
    finally:
        await app.state.http.aclose()
        await app.state.engine.dispose()

    assert answered.status_code == 200
    served = [span for span in spans.get_finished_spans() if span.kind.name == "SERVER"]
    if share == 0.0:
        assert served == []
    else:
        [span] = served
        assert span.context is not None
        assert f"{span.context.trace_id:032x}" != callers.split("-")[1]
        assert span.parent is None
