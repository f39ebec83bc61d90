"""Purchases per second through the gateway, every service in its own process on
PostgreSQL, beside this machine's `pgbench` TPS (built-in TPC-B-like script) measured in
the same run.

1. Creates a scratch database, starts the stack on it (local object store) and lists
   `--works` works by one creator through the gateway (upload, consent, offer).
2. Registers `--buyers` labs, tops each up, and has them issue `--purchases` quotes
   (each a bundle of 1 to 3 works), so the timed phase is purchases alone.
3. Times `--purchases` purchases at `--concurrency` through GraphQL (each with a fresh
   idempotency key); the stack meanwhile relays every sale to delivery (which builds and
   signs a manifest) and to the audit log, as in production.
4. Runs pgbench on its own scratch database with the same client count, and prints the
   ratio. Checks the ledger's invariants at the end.

Usage: python bench/purchase.py [--purchases 1000] [--concurrency 16]
"""

import argparse
import asyncio
import hashlib
import os
import random
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from assent.stack import OBJECT_SERVER, Stack, migrate, stack_environment
from gateway.accounts.keys import generate_key

ADMIN_DSN = os.environ.get(
    "ASSENT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
USES = ["TRAINING", "EVALUATION"]

REGISTER = """mutation($input: RegisterInput!) { register(input: $input) {
  ... on Registered { account { id } apiKey { secret } } } }"""
CREATE_WORK = """mutation($input: CreateWorkInput!) { createWork(input: $input) {
  ... on WorkCreated { work { id } upload { put { url headers { name value } } } } } }"""
COMPLETE = """mutation($id: ID!) { completeUpload(workId: $id) { __typename } }"""
CONSENT = """mutation($id: ID!, $input: ConsentInput!) { giveConsent(workId: $id, input: $input) {
  __typename } }"""
OFFER = """mutation($id: ID!, $input: OfferInput!) { setOffer(workId: $id, input: $input) {
  __typename } }"""
TOP_UP = """mutation($buyer: ID!) { topUp(buyerId: $buyer, amountMinor: 1000000000,
  currency: "EUR", reference: "bench") { __typename } }"""
CREATE_BUNDLE = """mutation($input: CreateBundleInput!) { createBundle(input: $input) {
  ... on BundleCreated { bundle { id } } } }"""
QUOTE = (
    """mutation($id: ID!) { quoteBundle(bundleId: $id) { ... on QuoteIssued { quote { id } } } }"""
)
PURCHASE = """mutation($quote: ID!, $key: String!) {
  purchase(quoteId: $quote, idempotencyKey: $key) { __typename } }"""
LEDGER_CHECK = """{ ledgerCheck { ... on LedgerCheck { sound transactions } } }"""


class Gateway:
    def __init__(self, url: str, http: httpx.AsyncClient) -> None:
        self.url = url + "/graphql"
        self.http = http

    async def run(self, query: str, variables: dict[str, Any], key: str) -> dict[str, Any]:
        response = await self.http.post(
            self.url,
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {key}"},
        )
        body: dict[str, Any] = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"{response.status_code}: {body}")
        data: dict[str, Any] = body["data"]
        return data


async def register(gateway: Gateway, role: str, name: str, admin: str) -> tuple[str, str]:
    email = f"{uuid.uuid4().hex[:10]}@bench.example.org"
    data = await gateway.run(
        REGISTER, {"input": {"name": name, "email": email, "role": role}}, admin
    )
    return data["register"]["account"]["id"], data["register"]["apiKey"]["secret"]


async def list_work(gateway: Gateway, creator: str, number: int) -> str:
    content = os.urandom(4_096)
    work = {
        "title": f"Bench work {number}",
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
    consent = {"uses": USES, "statementText": "I opt in.", "statementVersion": "bench"}
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


async def in_parallel(jobs: list[Any], concurrency: int) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs))


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100)[int(fraction * 100) - 1] * 1000


async def measure(stack: Stack, admin: str, args: argparse.Namespace) -> float:
    limits = httpx.Limits(max_connections=args.concurrency * 2)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        gateway = Gateway(stack.gateway_url, http)
        started = time.perf_counter()
        _, creator = await register(gateway, "CREATOR", "Bench Creator", admin)
        works = await in_parallel(
            [list_work(gateway, creator, n) for n in range(args.works)], args.concurrency
        )
        buyers = await in_parallel(
            [register(gateway, "BUYER", f"Bench Lab {n}", admin) for n in range(args.buyers)],
            args.concurrency,
        )
        for buyer_id, _ in buyers:
            await gateway.run(TOP_UP, {"buyer": buyer_id}, admin)
        setup = time.perf_counter() - started
        print(f"listed {len(works)} works, {len(buyers)} buyers in {setup:.1f} s")

        rng = random.Random(7)

        async def quote(number: int) -> tuple[str, str]:
            _, key = buyers[number % len(buyers)]
            chosen = rng.sample(works, rng.randint(1, 3))
            bundle = await gateway.run(
                CREATE_BUNDLE,
                {"input": {"name": f"b{number}", "uses": USES, "workIds": chosen}},
                key,
            )
            quoted = await gateway.run(QUOTE, {"id": bundle["createBundle"]["bundle"]["id"]}, key)
            if "quote" not in quoted["quoteBundle"]:
                raise RuntimeError(f"quoteBundle failed: {quoted}")
            return key, quoted["quoteBundle"]["quote"]["id"]

        started = time.perf_counter()
        quotes = await in_parallel([quote(n) for n in range(args.purchases)], args.concurrency)
        quoting = time.perf_counter() - started
        print(f"issued {len(quotes)} quotes in {quoting:.1f} s ({len(quotes) / quoting:.0f}/s)")

        latencies: list[float] = []
        errors = 0

        async def purchase(key: str, quote_id: str) -> None:
            nonlocal errors
            began = time.perf_counter()
            try:
                data = await gateway.run(
                    PURCHASE, {"quote": quote_id, "key": str(uuid.uuid4())}, key
                )
                if data["purchase"]["__typename"] != "PurchaseSucceeded":
                    errors += 1
            except RuntimeError:
                errors += 1
            latencies.append(time.perf_counter() - began)

        started = time.perf_counter()
        await in_parallel([purchase(key, quote_id) for key, quote_id in quotes], args.concurrency)
        elapsed = time.perf_counter() - started
        rate = len(quotes) / elapsed
        print(
            f"purchases: {len(quotes)} in {elapsed:.1f} s = {rate:.0f}/s, "
            f"p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
            f"errors {errors}"
        )
        check = (await gateway.run(LEDGER_CHECK, {}, admin))["ledgerCheck"]
        print(f"ledger: {check['transactions']} transactions, sound: {check['sound']}")
        return rate


def pgbench_tps(dsn_base: str, clients: int, seconds: int) -> float:
    name = f"assent_pgbench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
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
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--purchases", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--works", type=int, default=50)
    parser.add_argument("--buyers", type=int, default=16)
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    parser.add_argument("--port", type=int, default=18500)
    args = parser.parse_args()
    name = f"assent_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    dsn = f"{ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    admin = generate_key().secret
    try:
        with tempfile.TemporaryDirectory() as scratch:
            base = dict(
                os.environ,
                ASSENT_DATABASE_URL=dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
                ASSENT_ADMIN_KEY=admin,
                ASSENT_LOG_LEVEL="WARNING",
                # Every quote of the run is issued before the timed phase starts.
                ASSENT_LICENSING_QUOTE_TTL_SECONDS="3600",
            )
            env = stack_environment(data_dir=Path(scratch), port=args.port, base=base)
            migrate(env)
            stack = Stack(env=env, port=args.port, log_dir=Path(scratch) / "logs")
            print(f"starting the stack (ports {args.port}-{args.port + OBJECT_SERVER.port_offset})")
            stack.start()
            try:
                rate = asyncio.run(measure(stack, admin, args))
            finally:
                stack.stop()
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    tps = pgbench_tps(ADMIN_DSN, args.concurrency, args.pgbench_seconds)
    print(f"pgbench (TPC-B-like, {args.concurrency} clients): {tps:.0f} tps")
    print(f"purchases/s vs pgbench tps: {rate / tps:.3f}  (target: >= 100 purchases/s)")


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
