"""Catalogue search at scale: typical searches through the gateway against the same
queries run directly, on PostgreSQL with 1,000,000 works.

1. Creates a scratch database, migrates every component, and bulk-loads N works (each
   with a complete file version, a consent, an offer under shared terms and one share)
   straight into the catalogue's tables with COPY.
2. Starts the whole stack on it (every component in its own process) and registers a
   buyer through the gateway.
3. For each typical search: p50/p95 of the GraphQL `works` query through the gateway
   (HTTP, API-key auth, GraphQL, the catalogue over HTTP, its SQL) and of the catalogue's
   own queries run directly in this process (the search, then the read of the page),
   and their ratio.
4. Beside them, the same queries behind two bare HTTP hops (`bench/hop_floor.py`: two
   uvicorn processes with no framework): the least that any gateway in front of a
   service adds, so that the gateway's ratio can be read against the ratio of the hops
   alone.

Usage: python bench/catalogue_search.py [--works 1000000] [--runs 200]
       (PostgreSQL: ASSENT_BENCH_POSTGRES_URL, default the local server, trust auth)
"""

import argparse
import asyncio
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
import orjson
from hop_floor import search_body
from scratch_market import Gateway
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.catalogue.models import USE_BITS
from services.catalogue.search.repository import SearchFilters, SearchRepository
from services.catalogue.work.repository import WorkRepository
from services.contracts.catalogue import MediaType, SearchSort, Use
from services.kit.db import create_engine, create_sessionmaker
from services.stack import OBJECT_SERVER, ROOT, Stack, migrate, stack_environment

ADMIN_DSN = os.environ.get(
    "ASSENT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CREATORS = 2_000
VOCABULARY = 5_000
TAGS = 300
BATCH = 50_000
MEDIA = ["text", "image", "audio", "video", "other"]
LANGUAGES = ["en", "en", "en", "de", "fr", "es", "pt-BR", "ja"]
SYLLABLES = [
    a + b for a in "bcdfghjklmnprstvwz" for b in ("a", "e", "i", "o", "u", "ar", "en", "or")
]

# A frequent word (the 6th most common, tags aside) and the rarest one.
STAT_WORDS = """SELECT
  (SELECT word FROM ts_stat('SELECT search_vector FROM work') WHERE word NOT LIKE 'tag%'
   ORDER BY ndoc DESC LIMIT 1 OFFSET 5),
  (SELECT word FROM ts_stat('SELECT search_vector FROM work')
   ORDER BY ndoc, word LIMIT 1)"""

SEARCH = """query($filter: WorkFilter, $sort: SearchSort, $first: Int!) {
  works(filter: $filter, sort: $sort, first: $first) { __typename
    ... on WorkConnection { nextCursor items { id title mediaType listed
        offer { price { amountMinor currency } terms { uses durationDays } }
        shares { creator { name } basisPoints } } } } }"""


BENCH_STATEMENT = "I opt in."
BENCH_STATEMENT_SHA256 = hashlib.sha256(BENCH_STATEMENT.encode()).hexdigest()


def vocabulary(rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words, key=lambda word: rng.random())


def zipf_weights(size: int) -> list[float]:
    weights = [1 / (rank + 1) for rank in range(size)]
    total = 0.0
    cumulative = []
    for weight in weights:
        total += weight
        cumulative.append(total)
    return cumulative


def work_rows(
    count: int, creators: list[uuid.UUID], terms: list[tuple[str, list[str]]]
) -> Iterator[dict[str, dict[str, Any]]]:
    """One dict per table for each work, deterministic for a given count."""
    rng = random.Random(20261122)
    words = vocabulary(rng)
    tags = [f"tag{index}" for index in range(TAGS)]
    word_weights = zipf_weights(len(words))
    tag_weights = zipf_weights(len(tags))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for index in range(count):
        work_id, version_id, consent_id, offer_id = (uuid.uuid4() for _ in range(4))
        owner = creators[index % len(creators)]
        created_at = start + timedelta(seconds=index * 20)
        terms_id, uses = terms[index % len(terms)]
        price = rng.randint(50, 50_000)
        sha256 = hashlib.sha256(work_id.bytes).hexdigest()
        yield {
            "work": {
                "id": work_id,
                "owner_id": owner,
                "title": " ".join(
                    rng.choices(words, cum_weights=word_weights, k=rng.randint(3, 6))
                ),
                "description": " ".join(
                    rng.choices(words, cum_weights=word_weights, k=rng.randint(15, 30))
                ),
                "media_type": MEDIA[index % len(MEDIA)],
                "tags": json.dumps(sorted(set(rng.choices(tags, cum_weights=tag_weights, k=3)))),
                "language": rng.choice(LANGUAGES),
                "status": "ready",
                "review_status": "clear",
                "created_at": created_at,
                "current_version_id": version_id,
                "consent_id": consent_id,
                "offer_id": offer_id,
                "listed": True,
                # Listed: no reason it is not for sale.
                "sale_status": "[]",
                "price_minor": price,
                "currency": "EUR",
                "offer_uses": sum(USE_BITS[Use(use)] for use in uses),
            },
            "work_version": {
                "id": version_id,
                "work_id": work_id,
                "number": 1,
                "file_name": f"work-{index}.bin",
                "size": 1_000_000 + index,
                "sha256": sha256,
                "object_key": f"works/{work_id}/1",
                "upload_method": "single",
                "status": "complete",
                "created_at": created_at,
                "completed_at": created_at,
            },
            "consent": {
                "id": consent_id,
                "work_id": work_id,
                "sequence": 1,
                "kind": "given",
                "uses": json.dumps(uses),
                "statement_id": "bench",
                "statement_version": "1",
                "statement_sha256": BENCH_STATEMENT_SHA256,
                "attestation": None,
                "given_by": owner,
                "given_at": created_at,
            },
            "offer": {
                "id": offer_id,
                "work_id": work_id,
                "terms_id": terms_id,
                "price_minor": price,
                "currency": "EUR",
                "published_by": owner,
                "published_at": created_at,
            },
            "work_share": {
                "work_id": work_id,
                "creator_id": owner,
                "position": 0,
                "basis_points": 10_000,
            },
        }


async def copy_rows(connection: asyncpg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    columns = [
        record["column_name"]
        for record in await connection.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'catalogue' "
            "AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position",
            table,
        )
    ]
    records = [tuple(row.get(column) for column in columns) for row in rows]
    await connection.copy_records_to_table(
        table, records=records, columns=columns, schema_name="catalogue"
    )


async def load(dsn: str, count: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        # Bulk load: the rows are consistent by construction, so skip the FK triggers.
        await connection.execute("SET session_replication_role = replica")
        creators = [uuid.uuid4() for _ in range(CREATORS)]
        now = datetime.now(UTC)
        await copy_rows(
            connection,
            "creator",
            [{"id": c, "name": f"Creator {i}", "created_at": now} for i, c in enumerate(creators)],
        )
        terms = []
        for uses in (
            ["training"],
            ["training", "evaluation"],
            ["fine_tuning", "retrieval"],
            list(map(str, Use)),
        ):
            body = json.dumps(
                {
                    "attribution_required": True,
                    "commercial_use": True,
                    "duration_days": 365,
                    "exclusivity_days": 0,
                    "max_models": None,
                    "territory": ["WORLD"],
                    "uses": sorted(uses),
                },
                sort_keys=True,
                separators=(",", ":"),
            )
            terms.append((hashlib.sha256(body.encode()).hexdigest(), sorted(uses)))
            await copy_rows(
                connection,
                "terms",
                [{"id": terms[-1][0], "canonical_json": body, "created_at": now}],
            )
        await copy_rows(
            connection,
            "statement_text",
            [{"sha256": BENCH_STATEMENT_SHA256, "text": BENCH_STATEMENT, "created_at": now}],
        )
        batches: dict[str, list[dict[str, Any]]] = {}
        started = time.perf_counter()
        for loaded, rows in enumerate(work_rows(count, creators, terms), start=1):
            for table, row in rows.items():
                batches.setdefault(table, []).append(row)
            if loaded % BATCH == 0 or loaded == count:
                for table in ("work", "work_version", "consent", "offer", "work_share"):
                    await copy_rows(connection, table, batches.pop(table, []))
                print(
                    f"  loaded {loaded:,} works ({time.perf_counter() - started:.0f} s)", flush=True
                )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100)[int(fraction * 100) - 1] * 1000


async def timed(
    sides: Sequence[Callable[[], Awaitable[int]]], runs: int
) -> list[tuple[list[float], int]]:
    """Latencies and results of each side, the sides taking turns run by run: load from
    elsewhere on the machine then falls on every side alike, not on whichever side was
    running while it lasted."""
    for _ in range(10):
        for run in sides:
            await run()
    latencies: list[list[float]] = [[] for _ in sides]
    found = [0 for _ in sides]
    for _ in range(runs):
        for index, run in enumerate(sides):
            started = time.perf_counter()
            found[index] = await run()
            latencies[index].append(time.perf_counter() - started)
    return list(zip(latencies, found, strict=True))


REGISTER_BUYER = """mutation { register(input: {name: "Bench Lab",
  email: "bench-%s@lab.example", role: BUYER}) { ... on Registered { apiKey { secret } } } }"""


def typical_searches(
    common: str, rare: str
) -> list[tuple[str, dict[str, Any], SearchFilters, SearchSort]]:
    """Each search as the GraphQL filter a lab sends and as the catalogue's own filters."""
    training = USE_BITS[Use.TRAINING]
    return [
        ("text, common word", {"query": common}, SearchFilters(query=common), SearchSort.RELEVANCE),
        ("text, rare word", {"query": rare}, SearchFilters(query=rare), SearchSort.RELEVANCE),
        (
            "filters only, newest",
            {
                "mediaTypes": ["IMAGE"],
                "uses": ["TRAINING"],
                "maxPriceMinor": 10_000,
                "currency": "EUR",
            },
            SearchFilters(
                media_types=frozenset({MediaType.IMAGE}),
                uses_mask=training,
                max_price_minor=10_000,
                currency="EUR",
            ),
            SearchSort.NEWEST,
        ),
        (
            "text + filters + tag",
            {"query": common, "uses": ["TRAINING"], "tags": ["tag3"], "language": "en"},
            SearchFilters(query=common, uses_mask=training, tags=("tag3",), language="en"),
            SearchSort.RELEVANCE,
        ),
        (
            "tag, cheapest first",
            {"tags": ["tag10"]},
            SearchFilters(tags=("tag10",)),
            SearchSort.PRICE_ASC,
        ),
    ]


async def measure_case(
    gateway: Gateway,
    hops: aiohttp.ClientSession,
    hops_url: str,
    buyer: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    case: tuple[str, dict[str, Any], SearchFilters, SearchSort],
    runs: int,
) -> None:
    name, graphql_filter, filters, sort = case
    variables = {"filter": graphql_filter, "sort": sort.name, "first": 20}
    pages: set[tuple[str, ...]] = set()
    hops_pages: set[tuple[str, ...]] = set()
    direct_pages: set[tuple[str, ...]] = set()
    hops_request = search_body(filters, sort)

    async def through_gateway() -> int:
        result = (await gateway.run(SEARCH, variables, buyer))["works"]
        assert result["__typename"] == "WorkConnection", result
        pages.add(tuple(item["id"] for item in result["items"]))
        return len(result["items"])

    async def through_hops() -> int:
        async with hops.post(hops_url, data=hops_request) as response:
            result = orjson.loads(await response.read())["data"]["works"]
        hops_pages.add(tuple(item["id"] for item in result["items"]))
        return len(result["items"])

    async def direct() -> int:
        async with sessionmaker() as session, session.begin():
            page = await SearchRepository(session).search(filters, sort=sort, after=None, limit=20)
            works = await WorkRepository(session).read_many(page.ids)
            direct_pages.add(tuple(str(work.id) for work in works))
            return len(works)

    (gateway_times, found), (hops_times, _), (direct_times, direct_found) = await timed(
        (through_gateway, through_hops, direct), runs
    )
    assert found == direct_found, (name, found, direct_found)
    # Every run must do the same work: the same search answers the same page each time,
    # and the same page on every side.
    assert len(pages) == 1, (name, f"{len(pages)} different pages")
    assert pages == hops_pages == direct_pages, (name, "the sides found different pages")
    g50, g95 = percentile(gateway_times, 0.5), percentile(gateway_times, 0.95)
    h95 = percentile(hops_times, 0.95)
    d50, d95 = percentile(direct_times, 0.5), percentile(direct_times, 0.95)
    figures = (g50, g95, h95, d50, d95, g95 / d95, h95 / d95)
    print(f"{name:28} {found:5d} " + " ".join(f"{figure:9.2f}" for figure in figures), flush=True)


async def measure(stack: Stack, hops_url: str, database_url: str, runs: int) -> None:
    engine = create_engine(database_url, schema="catalogue", pool_size=2)
    sessionmaker = create_sessionmaker(engine)
    # The load generator shares the cores with the stack: aiohttp costs it the least.
    async with (
        httpx.AsyncClient(timeout=30) as http,
        Gateway(stack.gateway_url, http, connections=1) as gateway,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as hops,
    ):
        registered = await gateway.run(REGISTER_BUYER % uuid.uuid4().hex[:8], {}, "")
        buyer = registered["register"]["apiKey"]["secret"]
        async with sessionmaker() as session:
            common, rare = (await session.execute(text(STAT_WORDS))).one()
        columns = ("gw p50", "gw p95", "hops p95", "sql p50", "sql p95", "gw/sql", "hops/sql")
        print(
            f"\n{'search (ms; ratios of p95)':28} {'found':>5} "
            + " ".join(f"{c:>9}" for c in columns)
        )
        for case in typical_searches(common, rare):
            await measure_case(gateway, hops, hops_url, buyer, sessionmaker, case, runs)
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--works", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--port", type=int, default=18300)
    parser.add_argument(
        "--keep", metavar="NAME", help="load into database NAME and keep it (reused when it exists)"
    )
    args = parser.parse_args()
    name = args.keep or f"assent_bench_{uuid.uuid4().hex[:8]}"
    reuse = args.keep is not None and asyncio.run(_database_exists(name))
    if not reuse:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    dsn = f"{ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    database_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            base = dict(os.environ, ASSENT_DATABASE_URL=database_url, ASSENT_LOG_LEVEL="WARNING")
            env = stack_environment(data_dir=Path(scratch), port=args.port, base=base)
            migrate(env)
            if reuse:
                print(f"reusing the works already in {name}", flush=True)
            else:
                print(f"loading {args.works:,} works into {name}…", flush=True)
                started = time.perf_counter()
                asyncio.run(load(dsn, args.works))
                print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
            stack = Stack(env=env, port=args.port, log_dir=Path(scratch) / "logs")
            floor_port = args.port + OBJECT_SERVER.port_offset + 1
            print(
                f"starting the stack (ports {args.port}-{args.port + OBJECT_SERVER.port_offset})"
                f" and the bare hops ({floor_port}-{floor_port + 1})"
            )
            stack.start()
            floor = start_hops(floor_port, database_url)
            try:
                asyncio.run(
                    measure(stack, f"http://127.0.0.1:{floor_port + 1}", database_url, args.runs)
                )
            finally:
                for process in floor:
                    process.terminate()
                    process.wait(timeout=15)
                stack.stop()
    finally:
        if args.keep is None:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def start_hops(port: int, database_url: str) -> list[subprocess.Popen[bytes]]:
    """`hop_floor.search` on `port` and `hop_floor.relay` in front of it on the next."""
    env = dict(
        os.environ,
        ASSENT_BENCH_FLOOR_DATABASE_URL=database_url,
        ASSENT_BENCH_FLOOR_SEARCH_URL=f"http://127.0.0.1:{port}",
    )
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "--app-dir",
                str(Path(__file__).parent),
                f"hop_floor:{app}",
                "--host",
                "127.0.0.1",
                "--port",
                str(port + offset),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
        )
        for offset, app in enumerate(("search", "relay"))
    ]
    deadline = time.monotonic() + 60
    for offset in range(len(processes)):
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port + offset}/").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    return processes


async def _database_exists(name: str) -> bool:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        return bool(await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await connection.close()


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
