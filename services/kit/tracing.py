"""Traces (OpenTelemetry): the one place a process's SDK is configured, from the standard
`OTEL_*` variables, and off unless `OTEL_TRACES_EXPORTER` names an exporter.

- `OTEL_TRACES_EXPORTER`: `otlp` (OTLP over HTTP/protobuf, to `OTEL_EXPORTER_OTLP_ENDPOINT`
  or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, with the exporter's other `OTEL_EXPORTER_OTLP_*`
  variables), `console`, or several, comma-separated. Unset or `none`: no tracing at all,
  no instrumentation installed. `OTEL_SDK_DISABLED=true` turns it off whatever is named.
- `service.name` is the component's own name unless `OTEL_SERVICE_NAME` says otherwise;
  `OTEL_RESOURCE_ATTRIBUTES` adds to it; `OTEL_BSP_*` tune the batching of spans.
- `OTEL_TRACES_SAMPLER`: `parentbased_always_on` (the default: every request served is
  traced), `parentbased_traceidratio` with `OTEL_TRACES_SAMPLER_ARG` the share of requests
  traced (0.05: one in twenty), or `parentbased_always_off`; the names without
  `parentbased_` mean the same here. Whatever a traced request causes (calls, queries, the
  outbox events it writes, their receivers' work) is traced with it, as the W3C
  `traceparent`'s sampled flag says. A query or a call that no request caused (a worker's
  poll, the relay's claim) starts no trace: it would be a trace per poll, and nobody's.

Whether a request is traced is decided once, where it comes in (`TracedRequests`): by the
sampled flag of the `traceparent` it carries, else by `OTEL_TRACES_SAMPLER`. The gateway,
which anyone may call, ignores a caller's `traceparent`: it alone decides, by the sampler. A traced
request runs through the ASGI instrumentation's `OpenTelemetryMiddleware`; any other runs
without it, under the instrumentations' public `suppress_instrumentation`, so its queries
and calls cost nothing either. (`FastAPIInstrumentor` puts the same middleware on every
request: it spent about 0.3 ms of CPU on each, traced or not, and the SQLAlchemy
instrumentation 65 us on each untraced query, which at one purchase in twenty traced was
a fifth of a purchase's CPU.) The decision travels on: the kit's calls and the outbox
send the `traceparent` themselves, sampled or not, so a request that is not traced leaves
nothing traced behind it, and a traced one is traced in every process.

The SDK's `TracerProvider` is an object of the app, passed to each instrumentation, never
set globally: two apps in one process (the tests') keep their own. SQLAlchemy is traced
per engine with the instrumentation's `EngineTracer`, the part `SQLAlchemyInstrumentor`
attaches to an engine: the instrumentor itself is one per process, ignores a second
`instrument()`, and also patches `create_engine` and `Engine.connect` for every engine.

The trace context crosses the outbox as a W3C `traceparent` stored with each event and
sent with it, so the receivers' work joins the trace of the request that wrote it. A
background job does the same: its row keeps the `traceparent` of the request that queued
it, and the worker does the job under `queued_work_span`, in that trace if it is traced.
"""

import asyncio
import os
import random
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar

import aiohttp
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from opentelemetry import trace
from opentelemetry.context import Context, attach, detach
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

TRACEPARENT = "traceparent"
# Probes answer many times a minute and say nothing about a purchase.
_UNTRACED_URLS = "/healthz,/readyz"
_W3C = TraceContextTextMapPropagator()
_CALLER_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate"})
_EVENT_TRACES: ContextVar[Mapping[uuid.UUID, str | None] | None] = ContextVar(
    "assent_event_traces", default=None
)
# The instrumentations' own metrics are not wanted: Prometheus serves ours.
_NO_METERS = NoOpMeterProvider()


class UnknownSpanExporter(ValueError):
    """`OTEL_TRACES_EXPORTER` names an exporter this platform does not ship."""


class UnknownSampler(ValueError):
    """`OTEL_TRACES_SAMPLER` names a sampler this platform does not offer, or its
    `OTEL_TRACES_SAMPLER_ARG` is no ratio."""


class _ServedRoots(Sampler):
    """Starts a trace, as `share` decides, for work someone asked for (a request served,
    an event sent), never for a query or a call made on no one's behalf."""

    def __init__(self, share: Sampler) -> None:
        self._share = share

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return self._share.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"ServedRoots{{{self._share.get_description()}}}"


class Tracing:
    """One process's tracer provider and what it instruments."""

    def __init__(
        self,
        service: str,
        exporters: Sequence[SpanExporter],
        *,
        share: float = 1.0,
        batch: bool = True,
    ) -> None:
        """`share` of the requests served are traced; `batch=False` exports each span as
        it ends, for a test reading them at once."""
        resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or service})
        # The share is drawn by `TracedRequests` as a request comes in: whatever starts a
        # trace past it (a request let through, the relay sending) is meant to.
        self.share = share
        root = _ServedRoots(ALWAYS_ON)
        self.provider = TracerProvider(resource=resource, sampler=ParentBased(root=root))
        for exporter in exporters:
            processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
            self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("assent")

    @classmethod
    def from_environment(cls, service: str) -> "Tracing | None":
        """As the `OTEL_*` variables say; None (off) unless an exporter is named."""
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return None
        names = [
            name.strip().lower()
            for name in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")
            if name.strip() and name.strip().lower() != "none"
        ]
        if not names:
            return None
        return cls(service, [_exporter(name) for name in names], share=_share_traced())

    def instrument_app(self, app: FastAPI, *, public: bool = False) -> None:
        """Added last, so outermost: it decides before anything else runs. A `public`
        app (the gateway, which anyone may call) decides itself which requests are traced:
        a caller's `traceparent` would let anyone have every request traced at our cost."""
        app.add_middleware(TracedRequests, tracing=self, public=public)

    def instrument_engine(self, engine: AsyncEngine) -> None:
        tracer = self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
        connections = _NO_METERS.get_meter("assent").create_up_down_counter("unused")
        EngineTracer(tracer, engine.sync_engine, connections)  # type: ignore[no-untyped-call]

    def client_trace_configs(self) -> list[aiohttp.TraceConfig]:
        """For the process's aiohttp session: a span per call, and its `traceparent` sent."""
        return [create_trace_config(tracer_provider=self.provider, meter_provider=_NO_METERS)]

    async def shutdown(self) -> None:
        """Exports what is still queued (blocking, so off the event loop)."""
        await asyncio.to_thread(self.provider.shutdown)


class TracedRequests:
    """Runs a request traced, through `OpenTelemetryMiddleware`, or wholly untraced."""

    def __init__(self, app: ASGIApp, tracing: Tracing, *, public: bool = False) -> None:
        self.app = app
        self.share = tracing.share
        self.public = public
        self.traced = OpenTelemetryMiddleware(
            app,
            excluded_urls=os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", _UNTRACED_URLS),
            default_span_details=_span_details,
            tracer_provider=tracing.provider,
            meter_provider=_NO_METERS,
            # A span for each ASGI message sent or received would double a request's spans
            # and tell nothing the request's own span does not.
            exclude_spans=["receive", "send"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.public:
            # The trace starts here, whatever the caller sent (the instrumentation would
            # otherwise take up its `traceparent` as the parent).
            headers = [(k, v) for k, v in scope["headers"] if k not in _CALLER_TRACE_HEADERS]
            scope = {**scope, "headers": headers}
        context = remote_context(_header(scope, b"traceparent"))
        if context is None:
            traced = self.share >= 1 or random.random() < self.share
            untraced = _untraced_span()
        else:
            untraced = trace.get_current_span(context)
            traced = untraced.get_span_context().trace_flags.sampled
        if traced:
            await self.traced(scope, receive, send)
            return
        with trace.use_span(untraced, end_on_exit=False), suppress_instrumentation():
            await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _untraced_span() -> trace.Span:
    """Ids for a request not traced, which its calls and events carry on as such."""
    return NonRecordingSpan(
        SpanContext(
            trace_id=random.getrandbits(128) or 1,
            span_id=random.getrandbits(64) or 1,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.DEFAULT),
        )
    )


def _span_details(scope: Scope) -> tuple[str, dict[str, str]]:
    """`POST /v1/licences/{licence_id}`: named by the route's template, never the path."""
    method = scope.get("method", "HTTP")
    # Routes of included routers are nested: FastAPI's contexts give each its full path.
    for route in iter_route_contexts(scope["app"].router.routes):
        match, _ = route.matches(scope)
        if match is not Match.NONE and (template := getattr(route, "path", None)):
            return f"{method} {template}", {"http.route": template}
    return method, {}


def _exporter(name: str) -> SpanExporter:
    if name == "otlp":
        return OTLPSpanExporter()
    if name == "console":
        return ConsoleSpanExporter()
    raise UnknownSpanExporter(
        f"OTEL_TRACES_EXPORTER names {name!r}; this platform ships otlp and console"
    )


_SAMPLERS = {"always_on": 1.0, "always_off": 0.0, "traceidratio": None}


def _share_traced() -> float:
    name = os.environ.get("OTEL_TRACES_SAMPLER", "").strip().lower().removeprefix("parentbased_")
    if not name:
        return 1.0
    if name not in _SAMPLERS:
        raise UnknownSampler(
            f"OTEL_TRACES_SAMPLER names {name!r}; this platform offers "
            "parentbased_always_on, parentbased_traceidratio and parentbased_always_off"
        )
    if (share := _SAMPLERS[name]) is not None:
        return share
    argument = os.environ.get("OTEL_TRACES_SAMPLER_ARG", "1.0")
    try:
        share = float(argument)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise UnknownSampler(f"OTEL_TRACES_SAMPLER_ARG is {argument!r}, not a ratio in [0, 1]")
    return share


@contextmanager
def events_written_in(trace_parents: Mapping[uuid.UUID, str | None]) -> Iterator[None]:
    """Around the handling of received events: the `traceparent` each was written in, by
    event id, for `event_traceparent`."""
    token = _EVENT_TRACES.set(trace_parents)
    try:
        yield
    finally:
        _EVENT_TRACES.reset(token)


def event_traceparent(event_id: uuid.UUID) -> str | None:
    """The `traceparent` of the request that wrote a received event, for work the event
    queues: that request's trace, not the one of the request that brought a batch of
    events from many (which is traced when any of them is, and would have all their work
    traced with it). An event sent on its own came in that request's own trace."""
    trace_parents = _EVENT_TRACES.get()
    if trace_parents is not None and event_id in trace_parents:
        return trace_parents[event_id]
    return current_traceparent()


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the span in progress, None outside a traced request."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get(TRACEPARENT)


def remote_context(traceparent: str | None) -> Context | None:
    """The context a stored `traceparent` names, None if it names none."""
    if not traceparent:
        return None
    context = _W3C.extract({TRACEPARENT: traceparent})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def _span_context(context: Context) -> trace.SpanContext:
    return trace.get_current_span(context).get_span_context()


@contextmanager
def sending_span(
    tracer: Tracer, destination: str, trace_parents: Sequence[str | None]
) -> Iterator[str | None]:
    """The span of one request of the outbox's relay: in the trace of the request that
    wrote its events when they all come from one (the call's `traceparent` then carries
    the receiver into it), else, if any of theirs is traced, a trace of its own linked to
    each. Yields the `traceparent` the request carries: for a batch of several requests'
    events, one the receiver does not trace (it marks each traced request's events
    received in that request's trace, `receiving_spans`, and traces nothing else): were it
    traced, one traced purchase in twenty would have the work of every batch it joins,
    and all that work sends on, traced with it."""
    distinct = set(trace_parents)
    parent = remote_context(next(iter(distinct))) if len(distinct) == 1 else None
    links = []
    if parent is None:
        for trace_parent in distinct:
            if (context := remote_context(trace_parent)) is not None:
                links.append(Link(_span_context(context)))
        if not any(link.context.trace_flags.sampled for link in links):
            # Events of no traced request: their receiver is told not to trace them either.
            with trace.use_span(_untraced_span(), end_on_exit=False):
                yield current_traceparent()
            return
    with tracer.start_as_current_span(
        f"outbox send {destination}",
        context=parent if parent is not None else Context(),
        kind=SpanKind.PRODUCER,
        links=links,
        attributes={
            "messaging.system": "assent.outbox",
            "messaging.destination.name": destination,
            "messaging.batch.message_count": len(trace_parents),
        },
    ) as span:
        if parent is not None:
            yield current_traceparent()
            return
        # The call itself (its client span, the header it sends) under the batch's own
        # span, unsampled.
        with trace.use_span(_unsampled(span), end_on_exit=False):
            yield current_traceparent()


def _unsampled(span: trace.Span) -> trace.Span:
    """The span's ids, its sampled flag cleared: what runs under it is not traced."""
    ids = span.get_span_context()
    return NonRecordingSpan(
        SpanContext(
            trace_id=ids.trace_id,
            span_id=ids.span_id,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.DEFAULT),
        )
    )


@contextmanager
def receiving_spans(tracer: Tracer, trace_parents: Sequence[str | None]) -> Iterator[None]:
    """Around the handling of events that came in one request: a span in each trace they
    were written in that the request itself is not part of (a batch from several
    requests), so each of those traces shows its events received. When there is one such
    trace, the handling runs in it (its queries too, where the request is traced)."""
    current = trace.get_current_span().get_span_context()
    foreign: dict[str, Context] = {}
    for trace_parent in trace_parents:
        if trace_parent is None or trace_parent in foreign:
            continue
        context = remote_context(trace_parent)
        if context is not None and _span_context(context).trace_id != current.trace_id:
            foreign[trace_parent] = context
    with ExitStack() as stack:
        links = [Link(current)] if current.is_valid else None
        spans = [
            tracer.start_span(
                "outbox receive",
                context=context,
                kind=SpanKind.CONSUMER,
                links=links,
                attributes={"messaging.system": "assent.outbox"},
            )
            for context in foreign.values()
        ]
        for span in spans:
            stack.callback(span.end)
        if len(spans) == 1:
            stack.enter_context(trace.use_span(spans[0]))
        yield


@contextmanager
def queued_work_span(
    tracer: Tracer, name: str, trace_parent: str | None, *, attributes: Attributes = None
) -> Iterator[None]:
    """Around work a request queued for a background worker, whose job kept the request's
    `current_traceparent()`: if that request was traced, a span in its trace, under which
    the work's queries, calls and outbox events are traced with it; otherwise nothing, and
    the work stays as untraced as the worker's pass it runs in."""
    context = remote_context(trace_parent)
    if context is None or not _span_context(context).trace_flags.sampled:
        yield
        return
    # A context of its own, not the pass's: that one suppresses the instrumentations.
    token = attach(trace.set_span_in_context(trace.get_current_span(context), Context()))
    try:
        with tracer.start_as_current_span(name, kind=SpanKind.INTERNAL, attributes=attributes):
            yield
    finally:
        detach(token)
