"""Requests per second through the gateway, beside the same process's bare HTTP floor.

Starts the whole stack (like `assent up`) on a scratch directory, or on PostgreSQL when
ASSENT_DATABASE_URL is set, then drives it from this process with concurrent clients:

- `GET /healthz`: the HTTP floor of one uvicorn process (the baseline);
- GraphQL `me` with an API key: authentication (key lookup) plus one account read;
- GraphQL `systemStatus`: a fan-out to all four services with internal tokens.

Usage: python bench/gateway.py [--seconds 5] [--concurrency 16]
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from gateway.accounts.keys import generate_key
from services.stack import OBJECT_SERVER, Stack, migrate, stack_environment


async def drive(
    client: httpx.AsyncClient, request: httpx.Request, *, seconds: float, concurrency: int
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await client.send(request)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200 or b'"errors"' in response.content:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies, errors


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100)[int(fraction * 100) - 1] * 1000


async def measure(stack: Stack, admin_key: str, seconds: float, concurrency: int) -> None:
    url = stack.gateway_url
    auth = {"authorization": f"Bearer {admin_key}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        cases = {
            "GET /healthz (baseline)": client.build_request("GET", url + "/healthz"),
            "GraphQL me": client.build_request(
                "POST",
                url + "/graphql",
                json={"query": "{ me { ... on Account { id name roles } } }"},
                headers=auth,
            ),
            "GraphQL systemStatus (4 services)": client.build_request(
                "POST",
                url + "/graphql",
                json={
                    "query": "{ systemStatus { ... on SystemStatus { services { __typename } } } }"
                },
                headers=auth,
            ),
        }
        baseline = None
        header = ("req/s", "p50 ms", "p99 ms", "errors")
        print(f"{'case':36} " + " ".join(f"{h:>8}" for h in header) + f" {'vs baseline':>12}")
        for name, request in cases.items():
            await drive(client, request, seconds=1, concurrency=concurrency)  # warm-up
            rate, latencies, errors = await drive(
                client, request, seconds=seconds, concurrency=concurrency
            )
            baseline = baseline or rate
            print(
                f"{name:36} {rate:8.0f} {percentile(latencies, 0.5):8.2f} "
                f"{percentile(latencies, 0.99):8.2f} {errors:8d} {rate / baseline:12.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=18400)
    args = parser.parse_args()
    admin_key = generate_key().secret
    with tempfile.TemporaryDirectory() as scratch:
        base = dict(os.environ, ASSENT_ADMIN_KEY=admin_key, ASSENT_LOG_LEVEL="WARNING")
        env = stack_environment(data_dir=Path(scratch), port=args.port, base=base)
        migrate(env)
        stack = Stack(env=env, port=args.port, log_dir=Path(scratch) / "logs")
        started = time.perf_counter()
        stack.start()
        database = "PostgreSQL" if "ASSENT_DATABASE_URL" in os.environ else "SQLite"
        print(
            f"stack ready in {time.perf_counter() - started:.2f} s "
            f"({len(stack.processes)} processes, {database}); "
            f"ports {args.port}-{args.port + OBJECT_SERVER.port_offset}"
        )
        try:
            asyncio.run(measure(stack, admin_key, args.seconds, args.concurrency))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
