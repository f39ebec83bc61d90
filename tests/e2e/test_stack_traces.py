"""One purchase is one trace, from the gateway through licensing to the sale's delivery and
its audit entries, across the outbox, with the database's queries in it: every component
in its own process, exporting OTLP over HTTP (as set by the standard `OTEL_*` variables)
to a small collector this test runs on loopback, which decodes what it receives with the
OTLP protobuf messages, as a real collector would. The delivery's build, done later by a
background worker, is in that trace too, and the event it writes carries it on."""

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.e2e.marketplace import buy, delivered, funded_buyer, listed_work, quote_for, register
from tests.fixtures.database import fresh_database
from tests.fixtures.faults import eventually
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack, launch_stack
from tests.fixtures.storage import S3Server

pytestmark = pytest.mark.stack


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    """Empty for a trace's root."""
    name: str
    attributes: frozenset[str]

    @property
    def is_query(self) -> bool:
        return bool({"db.system", "db.system.name"} & self.attributes)


class Collector:
    """Receives `POST /v1/traces` (OTLP/HTTP, protobuf) and keeps every span."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.add(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=resource["service.name"],
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            attributes=frozenset(a.key for a in span.attributes),
                        )
                    )
        with self._lock:
            self.spans.extend(received)

    def received(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)


def ancestry(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    """`span`, its parent, and so on up to the trace's root, as far as they were received."""
    by_id = {received.span_id: received for received in spans}
    chain = [span]
    while (parent := by_id.get(chain[-1].parent_span_id)) is not None:
        chain.append(parent)
    return chain


def descendants(of: ReceivedSpan, spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    return [span for span in spans if of in ancestry(span, spans)[1:]]


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    collecting = Collector()
    thread = threading.Thread(target=collecting.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield collecting
    finally:
        collecting.server.shutdown()
        collecting.server.server_close()


@pytest.fixture(scope="module")
def traced_stack(
    postgres_server: str,
    s3_server: S3Server,
    collector: Collector,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningStack]:
    with contextlib.contextmanager(fresh_database)(postgres_server, "traces") as url:
        yield from launch_stack(
            url,
            s3_server,
            tmp_path_factory.mktemp("traces"),
            bucket="assent-traces",
            settings={
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
                # Spans leave each process within a fifth of a second.
                "OTEL_BSP_SCHEDULE_DELAY": "200",
            },
        )


async def test_one_purchase_is_one_trace_through_every_service_and_the_outbox(
    traced_stack: RunningStack, collector: Collector
) -> None:
    gateway = GraphQLClient(traced_stack.graphql_url)
    try:
        _, creator = await register(gateway, "CREATOR", "Traced Creator")
        work = await listed_work(gateway, creator, price=1_200, title="Traced study")
        _, lab = await funded_buyer(gateway, traced_stack.admin_key, "Traced Lab", 5_000)
        quote = await quote_for(gateway, lab, [work])
        licence = await buy(gateway, lab, quote["id"])
        await delivered(gateway, lab, licence["id"])
    finally:
        await gateway.http.aclose()

    def purchase_traces() -> set[str]:
        return {
            span.trace_id
            for span in collector.received()
            if span.service == "licensing" and span.name == "POST /v1/purchases"
        }

    async def whole_trace() -> list[ReceivedSpan] | None:
        traces = purchase_traces()
        if len(traces) != 1:
            return None
        (trace_id,) = traces
        spans = [span for span in collector.received() if span.trace_id == trace_id]
        services = {span.service for span in spans}
        if not {"gateway", "licensing", "delivery", "audit"} <= services:
            return None
        # Each process exports on its own schedule, and the build's event is relayed after
        # its span ends: wait for the spans between the build and the root, and for the
        # event's receipt.
        for build in (span for span in spans if span.name == "delivery build manifest"):
            beneath = {span.service for span in descendants(build, spans)}
            if not ancestry(build, spans)[-1].parent_span_id and beneath >= {"licensing", "audit"}:
                return spans
        return None

    spans = await eventually(whole_trace, what="the purchase's trace in every service")

    assert len(purchase_traces()) == 1
    assert {span.service for span in spans} >= {"gateway", "licensing", "delivery", "audit"}
    assert {"POST /graphql", "POST /v1/purchases"} <= {span.name for span in spans}
    # The sale reached delivery and the audit log through the outbox, in this trace.
    received_events = {
        span.service for span in spans if span.name.startswith("POST /internal/events")
    }
    assert received_events >= {"delivery", "audit"}
    queried = {span.service for span in spans if span.is_query}
    assert queried >= {"licensing", "delivery", "audit"}
    # The manifest's build, which delivery's worker does after receiving the sale, is in
    # the purchase's trace, beneath its root (the gateway's request) ...
    (build,) = [span for span in spans if span.name == "delivery build manifest"]
    assert build.service == "delivery"
    assert "assent.delivery.id" in build.attributes
    (root,) = [span for span in spans if not span.parent_span_id]
    assert (root.service, root.name) == ("gateway", "POST /graphql")
    assert ancestry(build, spans)[-1] == root
    # ... with its queries timed in it, and its `delivery.issued` event received in it.
    beneath = descendants(build, spans)
    assert any(span.service == "delivery" and span.is_query for span in beneath)
    assert {span.service for span in beneath} >= {"delivery", "licensing", "audit"}
