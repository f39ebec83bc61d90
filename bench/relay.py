"""Outbox relay throughput, by hand (not a test): events per second from the catalogue's
outbox to a receiver, one event per request (the relay before batching) against batches.

1. Creates a scratch PostgreSQL database and migrates every component into it.
2. For each mode and run: commits `--events` events for the audit log to the catalogue's
   outbox (not timed), then times `OutboxRelay.relay_once` passes, back to back as
   `run()` makes them under load, until the outbox is empty. A pass leases a batch in
   one short transaction, sends it with none open, and records the outcome in another.
3. Prints events per second (median of the runs) and HTTP requests per mode.

Modes: `single` sets `max_batch_bytes=0`, so every event goes alone to
`/internal/events` (what the relay did before); `batch` sends up to `--batch-size`
events (100 by default) and 512 KiB a request to `/internal/events/batch`.

Receivers: `kit` is a service built on the kit whose handler does nothing (the cost is
the relay's and the kit inbox's); `audit` is the real audit app. In process they are
called through httpx's ASGI transport; with `--http` each runs under uvicorn in its own
process, on loopback.

Usage: .venv/bin/python -m bench.relay
           [--events 5000] [--runs 3] [--batch-size 100] [--receiver kit audit] [--http]
       (PostgreSQL: ASSENT_BENCH_POSTGRES_URL, default the local server, trust auth)
"""

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.contracts.delivery import FileDownloaded
from services.contracts.events import SUBSCRIBERS, EventEnvelope, Topic
from services.kit.app import create_service_app
from services.kit.client import HttpxTransport
from services.kit.db import create_engine, create_sessionmaker
from services.kit.internal_token import TokenSigner, load_private_key
from services.kit.outbox import OutboxRelay, emit, pending_count
from services.kit.settings import ServiceSettings
from services.stack import internal_signing_key, migrate, stack_environment

ADMIN_DSN = os.environ.get(
    "ASSENT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# A download, the commonest chain event, which only the audit log receives.
TOPIC = Topic.FILE_DOWNLOADED
assert SUBSCRIBERS[TOPIC] == ("audit",)
MODES = ("single", "batch")


async def _ignore(_session: AsyncSession, _envelope: EventEnvelope) -> None:
    return None


def kit_receiver() -> FastAPI:
    """The `kit` receiver, configured from the environment (uvicorn `--factory`)."""
    settings = ServiceSettings.model_validate(
        {
            "database_url": os.environ["ASSENT_AUDIT_DATABASE_URL"],
            "database_schema": os.environ["ASSENT_AUDIT_DATABASE_SCHEMA"],
            # The public keys come from the environment too (ASSENT_INTERNAL_PUBLIC_KEYS).
            "internal_signing_key": os.environ[internal_signing_key("audit")],
        }
    )
    return create_service_app(
        "audit", settings, event_handlers={topic: _ignore for topic in SUBSCRIBERS}
    )


FACTORIES = {
    "kit": "bench.relay:kit_receiver",
    "audit": "services.audit.app:create_app",
}


def _receiver_app(kind: str) -> FastAPI:
    if kind == "kit":
        return kit_receiver()
    from services.audit.app import create_app

    return create_app()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@asynccontextmanager
async def _receiver(kind: str, *, http: bool, env: Mapping[str, str]) -> AsyncIterator[str]:
    """The receiver's base URL while it runs; an ASGI one is only reachable through the
    client `_client` makes for it."""
    if not http:
        yield "http://audit.internal"
        return
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "uvicorn", "--factory", FACTORIES[kind]),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(200):
                try:
                    # Ready, not only up: the check also creates the object store bucket.
                    if (await probe.get(url + "/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"the {kind} receiver did not start")
        yield url
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


def _download() -> FileDownloaded:
    return FileDownloaded(
        delivery_id=uuid.uuid4(),
        licence_id=uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        work_id=uuid.uuid4(),
        version_id=uuid.uuid4(),
        downloaded_at=datetime.now(UTC),
    )


async def _emit(sessionmaker: async_sessionmaker[AsyncSession], count: int) -> None:
    for start in range(0, count, 1_000):
        async with sessionmaker() as session:
            for _ in range(start, min(count, start + 1_000)):
                emit(session, TOPIC, _download())
            await session.commit()


async def _drain(relay: OutboxRelay, sessionmaker: async_sessionmaker[AsyncSession]) -> float:
    started = time.perf_counter()
    while await relay.relay_once():
        pass
    elapsed = time.perf_counter() - started
    async with sessionmaker() as session:
        pending, _oldest = await pending_count(session)
    if pending:
        raise RuntimeError(f"{pending} events were not delivered (see the outbox's last_error)")
    return elapsed


async def _measure(
    kind: str,
    mode: str,
    *,
    events: int,
    runs: int,
    batch_size: int,
    http: bool,
    env: Mapping[str, str],
) -> tuple[float, float]:
    """Median events per second, and HTTP requests per event."""
    engine = create_engine(env["ASSENT_CATALOGUE_DATABASE_URL"], schema="catalogue", pool_size=2)
    sessionmaker = create_sessionmaker(engine)
    app = None if http else _receiver_app(kind)
    requests = 0

    async def count(_request: httpx.Request) -> None:
        nonlocal requests
        requests += 1

    transport = None if app is None else httpx.ASGITransport(app=app)
    try:
        async with (
            _receiver(kind, http=http, env=env) as url,
            httpx.AsyncClient(
                transport=transport, timeout=60, event_hooks={"request": [count]}
            ) as client,
        ):
            relay = OutboxRelay(
                sessionmaker,
                source="catalogue",
                destinations={"audit": url},
                signer=TokenSigner(
                    load_private_key(env[internal_signing_key("catalogue")], setting="catalogue"),
                    issuer="catalogue",
                ),
                http=HttpxTransport(client),
                batch_size=batch_size,
                # Nothing fits in no bytes: every event goes alone, as before batching.
                max_batch_bytes=0 if mode == "single" else 512 * 1024,
            )
            rates = []
            for _ in range(runs):
                await _emit(sessionmaker, events)
                rates.append(events / await _drain(relay, sessionmaker))
    finally:
        if app is not None:
            await app.state.http.aclose()
            await app.state.engine.dispose()
        await engine.dispose()
    return statistics.median(rates), requests / (events * runs)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def main(arguments: argparse.Namespace) -> None:
    name = f"assent_bench_relay_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            env = stack_environment(
                data_dir=Path(data_dir),
                port=_free_port(),
                base={
                    **os.environ,
                    "ASSENT_DATABASE_URL": f"{base}/{name}",
                    "ASSENT_LOG_LEVEL": "WARNING",
                },
            )
            # The in-process receivers read their settings from this process's environment.
            os.environ.update(env)
            await asyncio.to_thread(migrate, env)
            transport = "HTTP, uvicorn process" if arguments.http else "in process (ASGI)"
            print(
                f"{arguments.events} events x {arguments.runs} runs, passes of "
                f"{arguments.batch_size}, receiver {transport}"
            )
            print(f"{'receiver':<10}{'mode':<8}{'events/s':>10}{'requests/event':>16}")
            for kind in arguments.receiver:
                for mode in MODES:
                    rate, per_event = await _measure(
                        kind,
                        mode,
                        events=arguments.events,
                        runs=arguments.runs,
                        batch_size=arguments.batch_size,
                        http=arguments.http,
                        env=env,
                    )
                    print(f"{kind:<10}{mode:<8}{rate:>10,.0f}{per_event:>16.3f}")
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100, help="events a relay pass takes")
    parser.add_argument("--receiver", nargs="+", choices=sorted(FACTORIES), default=["kit"])
    parser.add_argument("--http", action="store_true")
    asyncio.run(main(parser.parse_args()))
