"""A scratch marketplace for the benches that drive the whole stack through the gateway.

`bench/purchase.py` and `bench/load.py` share it: a scratch PostgreSQL database, every
process of the stack on it (the local object store, or S3 on a moto server), the GraphQL
steps of a creator and a buyer, the CPU each process spent, and the wait until every
sale has been delivered and logged.
"""

import asyncio
import contextlib
import hashlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import asyncpg
import httpx
import orjson

from gateway.accounts.keys import generate_key
from services.stack import OBJECT_SERVER, Stack, migrate, stack_environment

ADMIN_DSN = os.environ.get(
    "ASSENT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
USES = ["TRAINING", "EVALUATION"]
# Every component with an outbox: the gateway's tells of accounts.
OUTBOX_SCHEMAS = ("gateway", "catalogue", "licensing", "delivery", "audit")
T = TypeVar("T")

REGISTER = """mutation($input: RegisterInput!) { register(input: $input) {
  ... on Registered { account { id } apiKey { secret } } } }"""
CREATE_WORK = """mutation($input: CreateWorkInput!) { createWork(input: $input) {
  ... on WorkCreated { work { id } upload { put { url headers { name value } } } } } }"""
COMPLETE = """mutation($id: ID!) { completeUpload(workId: $id) { __typename } }"""
CONSENT = """mutation($id: ID!, $input: ConsentInput!) { giveConsent(workId: $id, input: $input) {
  __typename } }"""
OFFER = """mutation($id: ID!, $input: OfferInput!) { setOffer(workId: $id, input: $input) {
  __typename } }"""
TOP_UP = """mutation($buyer: ID!, $reference: String!) { topUp(buyerId: $buyer,
  amountMinor: 1000000000, currency: "EUR", reference: $reference) { __typename } }"""
LEDGER_CHECK = """{ ledgerCheck { ... on LedgerCheck { sound transactions
  unbalancedTransactions balanceMismatches negativeBuyerBalances } } }"""


class GraphQLFailed(RuntimeError):
    """The gateway answered with an HTTP error or a GraphQL error."""


class Gateway:
    """GraphQL calls go through aiohttp, files through `http` (httpx, as the SDK does).

    The load is generated on the same two cores as the stack it measures, so the
    generator should cost as little as it can: httpx spent about 1.2 ms of CPU per
    request here, aiohttp 0.14 ms (services/kit/client.py)."""

    def __init__(self, url: str, http: httpx.AsyncClient, *, connections: int) -> None:
        self.base_url = url
        self.url = url + "/graphql"
        self.http = http
        self._graphql = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=4.0),
            timeout=aiohttp.ClientTimeout(total=60),
        )

    async def __aenter__(self) -> "Gateway":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._graphql.close()

    async def run(self, query: str, variables: dict[str, Any], key: str) -> dict[str, Any]:
        async with self._graphql.post(
            self.url,
            data=orjson.dumps({"query": query, "variables": variables}),
            headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
        ) as response:
            content = await response.read()
            status = response.status
        body: dict[str, Any] = orjson.loads(content)
        if status != 200 or body.get("errors"):
            raise GraphQLFailed(f"{status}: {body}")
        data: dict[str, Any] = body["data"]
        return data


async def register(gateway: Gateway, role: str, name: str, admin: str) -> tuple[str, str]:
    email = f"{uuid.uuid4().hex[:10]}@bench.example.org"
    data = await gateway.run(
        REGISTER, {"input": {"name": name, "email": email, "role": role}}, admin
    )
    return data["register"]["account"]["id"], data["register"]["apiKey"]["secret"]


async def list_work(gateway: Gateway, creator: str, number: int, *, size: int = 4_096) -> str:
    """A work uploaded, consented to and offered for training and evaluation."""
    content = os.urandom(size)
    work = {
        "title": f"Bench work {number}",
        "description": f"Harbour study number {number}, photographed at dawn.",
        "tags": ["harbour", f"series-{number % 5}"],
        "mediaType": "TEXT",
        "language": "en",
        "file": {
            "fileName": f"work-{number}.txt",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        },
    }
    created = (await gateway.run(CREATE_WORK, {"input": work}, creator))["createWork"]
    put = created["upload"]["put"]
    headers = {pair["name"]: pair["value"] for pair in put["headers"]}
    (await gateway.http.put(put["url"], content=content, headers=headers)).raise_for_status()
    work_id: str = created["work"]["id"]
    await gateway.run(COMPLETE, {"id": work_id}, creator)
    consent = {
        "uses": USES,
        "statementId": "opt-in",
        "statementVersion": "1",
        "attestation": {"ownsRights": True, "depictsIdentifiablePeople": False},
    }
    await gateway.run(CONSENT, {"id": work_id, "input": consent}, creator)
    offer = {
        "priceMinor": 100 + number,
        "currency": "EUR",
        "terms": {
            "uses": USES,
            "commercialUse": True,
            "attributionRequired": True,
            "durationDays": 365,
        },
    }
    await gateway.run(OFFER, {"id": work_id, "input": offer}, creator)
    return work_id


async def funded_buyers(gateway: Gateway, admin: str, count: int) -> list[tuple[str, str]]:
    """`count` labs, each with a balance no bench run can spend."""
    buyers = await in_parallel(
        [register(gateway, "BUYER", f"Bench Lab {n}", admin) for n in range(count)], 16
    )
    for buyer_id, _ in buyers:
        # A reference is one payment's own: licensing refuses another payment under it.
        variables = {"buyer": buyer_id, "reference": f"bench-{buyer_id}"}
        recorded = await gateway.run(TOP_UP, variables, admin)
        if recorded["topUp"]["__typename"] != "MoneyRecorded":
            raise GraphQLFailed(f"top-up refused: {recorded}")
    return buyers


async def in_parallel(jobs: list[Awaitable[T]], concurrency: int) -> list[T]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Awaitable[T]) -> T:
        async with gate:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs))


def percentile(values: list[float], fraction: float) -> float:
    """In milliseconds; `values` in seconds."""
    if len(values) < 2:
        return values[0] * 1000 if values else float("nan")
    return statistics.quantiles(values, n=100)[int(fraction * 100) - 1] * 1000


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# --- CPU per process, from /proc (user + system time of each process of the stack) ---

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@dataclass(frozen=True)
class CpuSample:
    by_process: dict[str, float]
    # PostgreSQL's backends serving the market's database, by process id.
    backends: dict[int, float]

    @classmethod
    async def of(cls, market: "RunningMarket") -> "CpuSample":
        connection = await asyncpg.connect(market.dsn)
        try:
            pids = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
        finally:
            await connection.close()
        backends = {}
        for row in pids:
            with contextlib.suppress(OSError):
                backends[row["pid"]] = cpu_seconds(row["pid"])
        processes = market.stack.processes
        return cls({name: cpu_seconds(p.pid) for name, p in processes.items()}, backends)

    def since(self, earlier: "CpuSample") -> dict[str, float]:
        """CPU seconds spent by each process in between; a backend that connected in
        between counts from its start, one that closed in between is missed."""
        spent = {name: used - earlier.by_process[name] for name, used in self.by_process.items()}
        spent["postgres"] = sum(
            used - earlier.backends.get(pid, 0.0) for pid, used in self.backends.items()
        )
        return spent


def print_cpu(spent: dict[str, float], *, per: int, what: str) -> None:
    total = sum(spent.values())
    print(f"CPU per {what} by process ({per} {what}s, ms): ", end="")
    ordered = sorted(spent.items(), key=lambda item: -item[1])
    print(", ".join(f"{name} {seconds * 1000 / per:.1f}" for name, seconds in ordered), end="")
    print(f"; all {total * 1000 / per:.1f}")


# --- the stack on a scratch database ---


async def admin_sql(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards; yields its plain DSN."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def moto_s3() -> Iterator[dict[str, str]]:
    """A moto S3 server on loopback, as the tests use; yields the stack's storage settings."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.1)
        # moto accepts any credentials; these only have to be present.
        yield {
            "ASSENT_STORAGE_BACKEND": "s3",
            "ASSENT_STORAGE_S3_ENDPOINT_URL": endpoint,
            "ASSENT_STORAGE_S3_ACCESS_KEY_ID": "testing",
            "ASSENT_STORAGE_S3_SECRET_ACCESS_KEY": "testing",
            "ASSENT_STORAGE_S3_REGION": "us-east-1",
            "ASSENT_STORAGE_BUCKET": "assent-bench",
        }
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class RunningMarket:
    stack: Stack
    admin_key: str
    dsn: str


@contextlib.contextmanager
def running_market(
    dsn: str, *, port: int, settings: dict[str, str] | None = None
) -> Iterator[RunningMarket]:
    """Every process of the stack on `dsn`, as `assent up` starts them; `settings` adds to
    the environment (S3 settings, for instance: otherwise objects stay in a scratch folder)."""
    admin = generate_key().secret
    with tempfile.TemporaryDirectory() as scratch:
        base = dict(
            os.environ,
            ASSENT_DATABASE_URL=dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
            ASSENT_ADMIN_KEY=admin,
            ASSENT_LOG_LEVEL="WARNING",
            # Quotes issued before a timed phase must still be open when it ends.
            ASSENT_LICENSING_QUOTE_TTL_SECONDS="3600",
            **(settings or {}),
        )
        env = stack_environment(data_dir=Path(scratch), port=port, base=base)
        migrate(env)
        stack = Stack(env=env, port=port, log_dir=Path(scratch) / "logs")
        print(f"starting the stack (ports {port}-{port + OBJECT_SERVER.port_offset})")
        stack.start()
        try:
            yield RunningMarket(stack=stack, admin_key=admin, dsn=dsn)
        finally:
            stack.stop()


async def backlog(dsn: str) -> dict[str, int]:
    """What the stack still has to do for the sales made: deliveries not yet built, events
    not yet relayed, log entries not yet sequenced."""
    connection = await asyncpg.connect(dsn)
    try:
        found = {
            "deliveries building": await connection.fetchval(
                "SELECT count(*) FROM delivery.delivery WHERE status = 'building'"
            ),
            "log entries pending": await connection.fetchval(
                "SELECT count(*) FROM audit.pending_entry"
            ),
        }
        for schema in OUTBOX_SCHEMAS:
            found[f"{schema} outbox"] = await connection.fetchval(
                f"SELECT count(*) FROM {schema}.outbox_delivery WHERE delivered_at IS NULL"  # noqa: S608
            )
        licences = await connection.fetchval("SELECT count(*) FROM licensing.licence")
        received = await connection.fetchval("SELECT count(*) FROM delivery.licence")
        found["grants not received"] = licences - received
        return {name: int(count) for name, count in found.items()}
    finally:
        await connection.close()


async def wait_drained(dsn: str, *, within: float) -> float:
    """Seconds until every sale is delivered, every event relayed and logged."""
    started = time.perf_counter()
    while True:
        left = await backlog(dsn)
        if not any(left.values()):
            return time.perf_counter() - started
        if time.perf_counter() - started > within:
            raise RuntimeError(f"the stack did not catch up within {within:.0f} s: {left}")
        await asyncio.sleep(0.1)


def pgbench_tps(clients: int, seconds: int) -> float:
    """This machine's PostgreSQL under pgbench's built-in TPC-B-like script."""
    name = f"assent_pgbench_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    try:
        target = ["-h", "127.0.0.1", "-U", "postgres", name]
        subprocess.run(
            ["pgbench", "-i", "-q", "-s", "10", *target], check=True, capture_output=True
        )
        jobs = str(min(clients, os.cpu_count() or 1))
        finished = subprocess.run(
            ["pgbench", "-c", str(clients), "-j", jobs, "-T", str(seconds), *target],
            check=True,
            capture_output=True,
            text=True,
        )
        found = re.search(r"tps = ([0-9.]+)", finished.stdout)
        if found is None:
            raise RuntimeError(f"pgbench printed no tps: {finished.stdout}")
        return float(found.group(1))
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
