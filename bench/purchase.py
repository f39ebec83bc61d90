"""Purchases per second through the gateway, every service in its own process on
PostgreSQL, beside this machine's `pgbench` TPS (built-in TPC-B-like script) measured in
the same run.

1. Creates a scratch database, starts the stack on it (local object store) and lists
   `--works` works by one creator through the gateway (upload, consent, offer).
2. Registers `--buyers` labs, tops each up, and has them issue `--purchases` quotes
   (each a bundle of 1 to 3 works), so the timed phase is purchases alone.
3. Times `--purchases` purchases at `--concurrency` through GraphQL (each with a fresh
   idempotency key); the stack meanwhile relays every sale to delivery (which builds and
   signs a manifest) and to the audit log, as in production. It then waits until every
   sale is delivered and logged, and prints the CPU each process spent per purchase over
   the purchases and that catch-up: on a shared 2-core machine a steadier figure than
   the rate, and the one that says where a purchase's cost lies.
4. Runs pgbench on its own scratch database with the same client count, and prints the
   ratio. Checks the ledger's invariants at the end.

With `--observed`, the question is instead what metrics and traces cost: two stacks on
scratch databases of their own, one with both off (the default) and one with each
process's metrics port on (scraped every 5 s, as Prometheus would) and traces exported
over OTLP to a collector in this process (`OTEL_TRACES_EXPORTER=otlp`; `--share` of the
requests traced, all by default), take the same purchases in alternating rounds (ABBA,
so drift in the machine's load falls on both alike), each round timed until its sales
are delivered and logged. It prints each side's
seconds and CPU per purchase and their ratio, the traced side over the plain one; the
target is at most 1.05.

Usage: python bench/purchase.py [--purchases 3000] [--concurrency 16] [--buyers 16]
       python bench/purchase.py --observed [--rounds 4] [--share 1.0]
                                [--observe both|metrics|traces|neither]
"""

import argparse
import asyncio
import contextlib
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aiohttp
import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from scratch_market import (
    LEDGER_CHECK,
    USES,
    CpuSample,
    Gateway,
    GraphQLFailed,
    RunningMarket,
    free_port,
    funded_buyers,
    in_parallel,
    list_work,
    load_average,
    percentile,
    pgbench_tps,
    print_cpu,
    register,
    running_market,
    scratch_database,
    wait_drained,
)

CREATE_BUNDLE = """mutation($input: CreateBundleInput!) { createBundle(input: $input) { __typename
  ... on BundleCreated { bundle { id } } } }"""
QUOTE = """mutation($id: ID!) { quoteBundle(bundleId: $id) { __typename
  ... on QuoteIssued { quote { id } } } }"""
PURCHASE = """mutation($quote: ID!, $key: String!) {
  purchase(quoteId: $quote, idempotencyKey: $key) { __typename } }"""
COMPONENTS = ("gateway", "catalogue", "licensing", "delivery", "audit")
# Licensing's span for a purchase: a trace holding one is a purchase's.
PURCHASE_SPAN = "POST /v1/purchases"
SERVICE = "service.name"
SQL_VERBS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "BEGIN", "COMMIT", "WITH"})
# The SDK's default `OTEL_BSP_SCHEDULE_DELAY`: how long a finished span may wait in its batch.
SPAN_EXPORT_SECONDS = 5
# Both stacks of `--observed` stay up side by side within PostgreSQL's 100 connections,
# which other work on the machine shares: smaller pools than the default 16 each, alike on
# both sides.
SIDE_BY_SIDE_POOLS = {"gateway": 4, "licensing": 4, "catalogue": 2, "delivery": 2, "audit": 2}


async def prepare(
    market: RunningMarket, gateway: Gateway, args: argparse.Namespace
) -> list[tuple[str, str]]:
    """Lists the works, funds the buyers and issues a quote per purchase; returns each
    purchase's (buyer key, quote id)."""
    admin = market.admin_key
    started = time.perf_counter()
    _, creator = await register(gateway, "CREATOR", "Bench Creator", admin)
    works = await in_parallel(
        [list_work(gateway, creator, n) for n in range(args.works)], args.concurrency
    )
    buyers = await funded_buyers(gateway, admin, args.buyers)
    setup = time.perf_counter() - started
    print(f"listed {len(works)} works, {len(buyers)} buyers in {setup:.1f} s")
    # Licensing bundles and quotes a work once the catalogue's outbox has told it of it.
    await wait_drained(market.dsn, within=120)

    rng = random.Random(7)

    async def quote(number: int) -> tuple[str, str]:
        _, key = buyers[number % len(buyers)]
        chosen = rng.sample(works, rng.randint(1, 3))
        bundle = await gateway.run(
            CREATE_BUNDLE,
            {"input": {"name": f"b{number}", "uses": USES, "workIds": chosen}},
            key,
        )
        if "bundle" not in bundle["createBundle"]:
            raise RuntimeError(f"createBundle failed: {bundle}")
        quoted = await gateway.run(QUOTE, {"id": bundle["createBundle"]["bundle"]["id"]}, key)
        if "quote" not in quoted["quoteBundle"]:
            raise RuntimeError(f"quoteBundle failed: {quoted}")
        return key, quoted["quoteBundle"]["quote"]["id"]

    started = time.perf_counter()
    quotes = await in_parallel([quote(n) for n in range(args.purchases)], args.concurrency)
    quoting = time.perf_counter() - started
    print(f"issued {len(quotes)} quotes in {quoting:.1f} s ({len(quotes) / quoting:.0f}/s)")
    return quotes


@dataclass
class Purchases:
    """What a timed run of purchases took."""

    count: int = 0
    seconds: float = 0.0
    catch_up: float = 0.0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    def add(self, other: "Purchases") -> None:
        self.count += other.count
        self.seconds += other.seconds
        self.catch_up += other.catch_up
        self.errors += other.errors
        self.latencies += other.latencies
        for name, spent in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + spent

    @property
    def elapsed(self) -> float:
        """From the first purchase until every sale is delivered and logged."""
        return self.seconds + self.catch_up

    @property
    def cpu_ms_per_purchase(self) -> float:
        return sum(self.cpu.values()) * 1000 / self.count


async def purchase_all(
    market: RunningMarket, gateway: Gateway, quotes: list[tuple[str, str]], concurrency: int
) -> Purchases:
    """Times the purchases, then waits until every sale is delivered and logged; the
    CPU is every process's over both."""
    run = Purchases(count=len(quotes))

    async def purchase(key: str, quote_id: str) -> None:
        began = time.perf_counter()
        try:
            data = await gateway.run(PURCHASE, {"quote": quote_id, "key": str(uuid.uuid4())}, key)
            if data["purchase"]["__typename"] != "PurchaseSucceeded":
                run.errors += 1
        except (GraphQLFailed, aiohttp.ClientError):
            run.errors += 1
        run.latencies.append(time.perf_counter() - began)

    before = await CpuSample.of(market)
    started = time.perf_counter()
    await in_parallel([purchase(key, quote_id) for key, quote_id in quotes], concurrency)
    run.seconds = time.perf_counter() - started
    run.catch_up = await wait_drained(market.dsn, within=300)
    run.cpu = (await CpuSample.of(market)).since(before)
    return run


async def measure(market: RunningMarket, args: argparse.Namespace) -> float:
    admin = market.admin_key
    limits = httpx.Limits(max_connections=args.concurrency * 2)
    async with (
        httpx.AsyncClient(limits=limits, timeout=60) as http,
        Gateway(market.stack.gateway_url, http, connections=args.concurrency * 2) as gateway,
    ):
        quotes = await prepare(market, gateway, args)
        # What the setup sent through the outboxes (listings, top-ups) is relayed first.
        await wait_drained(market.dsn, within=120)
        client_before = time.process_time()
        run = await purchase_all(market, gateway, quotes, args.concurrency)
        client = time.process_time() - client_before
        rate = run.count / run.seconds
        print(
            f"purchases: {run.count} in {run.seconds:.1f} s = {rate:.0f}/s, "
            f"p50 {percentile(run.latencies, 0.5):.1f} ms, "
            f"p99 {percentile(run.latencies, 0.99):.1f} ms, "
            f"errors {run.errors} (load average {load_average()})"
        )
        print(f"every sale delivered and logged {run.catch_up:.1f} s after the last purchase")
        print_cpu(run.cpu, per=run.count, what="purchase")
        # On the same cores: the load generator's share is capacity the stack did not get.
        print(f"this load generator: {client * 1000 / run.count:.1f} ms of CPU per purchase")
        check = (await gateway.run(LEDGER_CHECK, {}, admin))["ledgerCheck"]
        print(f"ledger: {check['transactions']} transactions, sound: {check['sound']}")
        return rate


class Collector:
    """An OTLP/HTTP trace collector in this process: it keeps what it is sent, and counts
    the spans only once asked, so decoding takes no CPU from the timed rounds."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bodies.append(self.rfile.read(int(self.headers["content-length"])))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> tuple[int, int]:
        """Spans received, and in how many traces."""
        count, traces = 0, set[bytes]()
        for _, span in self._each_span():
            count += 1
            traces.add(span.trace_id)
        return count, len(traces)

    def per_purchase(self) -> tuple[int, Counter[tuple[str, str]]]:
        """The traces of purchases (licensing's `POST /v1/purchases` in them), and their
        spans by process and name: where a traced purchase's spans are made."""
        spans = list(self._each_span())
        purchases = {span.trace_id for _, span in spans if span.name == PURCHASE_SPAN}
        named = Counter(
            (service, _kind_of(span.name)) for service, span in spans if span.trace_id in purchases
        )
        return len(purchases), named

    def _each_span(self) -> Iterator[tuple[str, Span]]:
        for body in list(self.bodies):
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                attributes = resource.resource.attributes
                service = next((a.value.string_value for a in attributes if a.key == SERVICE), "?")
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        yield service, span


def _kind_of(name: str) -> str:
    """A database span by its statement's verb (`SELECT assent`: `SELECT`), others whole."""
    verb = name.split(" ", 1)[0]
    return verb if verb in SQL_VERBS else name


def print_spans(collector: Collector) -> None:
    purchases, named = collector.per_purchase()
    if not purchases:
        return
    per_service = Counter[str]()
    for (service, _), count in named.items():
        per_service[service] += count
    print(
        f"spans per traced purchase ({purchases} traced): "
        f"{sum(per_service.values()) / purchases:.1f}; by process:"
    )
    for service, count in per_service.most_common():
        names = sorted(
            ((n, c) for (s, n), c in named.items() if s == service), key=lambda item: -item[1]
        )
        parts = ", ".join(f"{name} {c / purchases:.1f}" for name, c in names)
        print(f"  {service} {count / purchases:.1f}: {parts}")


@contextlib.contextmanager
def collecting() -> Iterator[Collector]:
    collector = Collector()
    thread = threading.Thread(target=collector.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield collector
    finally:
        collector.server.shutdown()
        collector.server.server_close()


def side_settings(
    collector: Collector, *, metrics: bool, traces: bool, share: float = 1.0
) -> dict[str, str]:
    """A side's environment: metrics and traces each on only when asked, whatever this
    shell's environment says."""
    settings = {
        f"ASSENT_{name.upper()}_DATABASE_POOL_SIZE": str(size)
        for name, size in SIDE_BY_SIDE_POOLS.items()
    }
    settings["OTEL_TRACES_EXPORTER"] = "none"
    if traces:
        settings["OTEL_TRACES_EXPORTER"] = "otlp"
        settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.endpoint
        settings["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
        settings["OTEL_TRACES_SAMPLER_ARG"] = str(share)
    if metrics:
        for name in COMPONENTS:
            settings[f"ASSENT_{name.upper()}_METRICS_PORT"] = str(free_port())
    return settings


async def scrape_every(seconds: float, ports: list[str], scraped: list[int]) -> None:
    """As Prometheus would, every process's metrics every `seconds`."""
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            for port in ports:
                answered = await http.get(f"http://127.0.0.1:{port}/metrics")
                answered.raise_for_status()
                scraped.append(len(answered.content))
            await asyncio.sleep(seconds)


async def compare(
    plain: RunningMarket, observed: RunningMarket, collector: Collector, args: argparse.Namespace
) -> None:
    sides = {"plain": plain, "observed": observed}
    limits = httpx.Limits(max_connections=args.concurrency * 4)
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(limits=limits, timeout=60))
        gateways: dict[str, Gateway] = {}
        quotes: dict[str, list[tuple[str, str]]] = {}
        for name, market in sides.items():
            print(f"-- {name}: setting up")
            gateways[name] = await stack.enter_async_context(
                Gateway(market.stack.gateway_url, http, connections=args.concurrency * 2)
            )
            quotes[name] = await prepare(market, gateways[name], args)
            await wait_drained(market.dsn, within=120)
        ports = [
            observed.stack.env[f"ASSENT_{name.upper()}_METRICS_PORT"]
            for name in COMPONENTS
            if f"ASSENT_{name.upper()}_METRICS_PORT" in observed.stack.env
        ]
        scraped: list[int] = []
        scraping = asyncio.create_task(scrape_every(5.0, ports, scraped))
        totals = {name: Purchases() for name in sides}
        per_round = args.purchases // args.rounds
        try:
            for number in range(args.rounds):
                # ABBA: each side goes first in half of the rounds.
                order = ["plain", "observed"] if number % 4 in (0, 3) else ["observed", "plain"]
                for name in order:
                    batch = quotes[name][number * per_round : (number + 1) * per_round]
                    run = await purchase_all(sides[name], gateways[name], batch, args.concurrency)
                    totals[name].add(run)
                    print(
                        f"round {number + 1} {name}: {run.count} purchases in {run.seconds:.2f} s"
                        f" + {run.catch_up:.2f} s to deliver and log, "
                        f"{run.cpu_ms_per_purchase:.1f} ms CPU each, errors {run.errors}"
                    )
        finally:
            scraping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scraping
        for name in sides:
            check = await gateways[name].run(LEDGER_CHECK, {}, sides[name].admin_key)
            print(f"{name} ledger sound: {check['ledgerCheck']['sound']}")
    # The last round's spans are still in each process's batch: one more export interval.
    await asyncio.sleep(SPAN_EXPORT_SECONDS + 1)
    spans, traces = collector.spans()
    print(
        f"observed side ({args.observe}; {args.share:.0%} of requests traced): "
        f"{spans} spans in {traces} traces exported to the collector, "
        f"{len(scraped)} metrics scrapes (load average {load_average()})"
    )
    print_spans(collector)
    for name, total in totals.items():
        p50 = percentile(total.latencies, 0.5)
        print(
            f"{name:>8}: {total.count} purchases in {total.seconds:.2f} s "
            f"({total.count / total.seconds:.0f}/s), with delivery and log {total.elapsed:.2f} s,"
            f" p50 {p50:.1f} ms, {total.cpu_ms_per_purchase:.2f} ms CPU per purchase"
        )
        print_cpu(total.cpu, per=total.count, what="purchase")
    plain_total, observed_total = totals["plain"], totals["observed"]
    cpu = observed_total.cpu_ms_per_purchase / plain_total.cpu_ms_per_purchase
    print(
        f"observed / plain: purchase time {observed_total.seconds / plain_total.seconds:.3f}, "
        f"with delivery and log {observed_total.elapsed / plain_total.elapsed:.3f}, "
        f"CPU per purchase {cpu:.3f}  (target: <= 1.05)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--purchases", type=int, default=3_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--works", type=int, default=50)
    parser.add_argument("--buyers", type=int, default=16)
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    parser.add_argument("--port", type=int, default=18500)
    parser.add_argument("--observed", action="store_true", help="metrics and traces on vs off")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--share", type=float, default=1.0, help="with --observed: the share of purchases traced"
    )
    parser.add_argument(
        "--observe",
        choices=["both", "metrics", "traces", "neither"],
        default="both",
        help="with --observed: what the observed side turns on",
    )
    args = parser.parse_args()
    if args.observed:
        with (
            collecting() as collector,
            scratch_database("assent_bench") as plain_dsn,
            scratch_database("assent_bench") as observed_dsn,
            running_market(
                plain_dsn,
                port=args.port,
                settings=side_settings(collector, metrics=False, traces=False),
            ) as plain,
            running_market(
                observed_dsn,
                port=args.port + 100,
                settings=side_settings(
                    collector,
                    metrics=args.observe in ("both", "metrics"),
                    traces=args.observe in ("both", "traces"),
                    share=args.share,
                ),
            ) as observed,
        ):
            asyncio.run(compare(plain, observed, collector, args))
        return
    with (
        scratch_database("assent_bench") as dsn,
        running_market(dsn, port=args.port) as market,
    ):
        rate = asyncio.run(measure(market, args))
    tps = pgbench_tps(args.concurrency, args.pgbench_seconds)
    print(f"pgbench (TPC-B-like, {args.concurrency} clients): {tps:.0f} tps")
    print(f"purchases/s vs pgbench tps: {rate / tps:.3f}  (target: >= 100 purchases/s)")


if __name__ == "__main__":
    main()
