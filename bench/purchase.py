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

Usage: python bench/purchase.py [--purchases 3000] [--concurrency 16] [--buyers 16]
"""

import argparse
import asyncio
import random
import time
import uuid

import aiohttp
import httpx
from scratch_market import (
    LEDGER_CHECK,
    USES,
    CpuSample,
    Gateway,
    GraphQLFailed,
    RunningMarket,
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

CREATE_BUNDLE = """mutation($input: CreateBundleInput!) { createBundle(input: $input) {
  ... on BundleCreated { bundle { id } } } }"""
QUOTE = (
    """mutation($id: ID!) { quoteBundle(bundleId: $id) { ... on QuoteIssued { quote { id } } } }"""
)
PURCHASE = """mutation($quote: ID!, $key: String!) {
  purchase(quoteId: $quote, idempotencyKey: $key) { __typename } }"""


async def measure(market: RunningMarket, args: argparse.Namespace) -> float:
    admin = market.admin_key
    limits = httpx.Limits(max_connections=args.concurrency * 2)
    async with (
        httpx.AsyncClient(limits=limits, timeout=60) as http,
        Gateway(market.stack.gateway_url, http, connections=args.concurrency * 2) as gateway,
    ):
        started = time.perf_counter()
        _, creator = await register(gateway, "CREATOR", "Bench Creator", admin)
        works = await in_parallel(
            [list_work(gateway, creator, n) for n in range(args.works)], args.concurrency
        )
        buyers = await funded_buyers(gateway, admin, args.buyers)
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
        # What the setup sent through the outboxes (listings, top-ups) is relayed first.
        await wait_drained(market.dsn, within=120)

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
            except (GraphQLFailed, aiohttp.ClientError):
                errors += 1
            latencies.append(time.perf_counter() - began)

        before = await CpuSample.of(market)
        client_before = time.process_time()
        started = time.perf_counter()
        await in_parallel([purchase(key, quote_id) for key, quote_id in quotes], args.concurrency)
        elapsed = time.perf_counter() - started
        catch_up = await wait_drained(market.dsn, within=300)
        spent = (await CpuSample.of(market)).since(before)
        client = time.process_time() - client_before
        rate = len(quotes) / elapsed
        print(
            f"purchases: {len(quotes)} in {elapsed:.1f} s = {rate:.0f}/s, "
            f"p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
            f"errors {errors} (load average {load_average()})"
        )
        print(f"every sale delivered and logged {catch_up:.1f} s after the last purchase")
        print_cpu(spent, per=len(quotes), what="purchase")
        # On the same cores: the load generator's share is capacity the stack did not get.
        print(f"this load generator: {client * 1000 / len(quotes):.1f} ms of CPU per purchase")
        check = (await gateway.run(LEDGER_CHECK, {}, admin))["ledgerCheck"]
        print(f"ledger: {check['transactions']} transactions, sound: {check['sound']}")
        return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--purchases", type=int, default=3_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--works", type=int, default=50)
    parser.add_argument("--buyers", type=int, default=16)
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    parser.add_argument("--port", type=int, default=18500)
    args = parser.parse_args()
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
