"""The audit log at 1,000,000 entries on PostgreSQL: appends per second and proof latency,
beside raw sha256 hashing of the same leaves measured in the same run.

1. Creates a scratch database and applies the audit log's migrations.
2. Seeds `--entries` entries (shaped like `file.downloaded` events, each in a licence
   and a work chain) through the sequencer's own append (`log_service.integrate`, batches
   of `--batch`, each one transaction as the sequencer commits it), timing the appends;
   the same leaves are hashed alone with sha256 (the floor of any RFC 6962 log) for the
   ratio. Then signs a checkpoint.
3. Starts the audit service in its own process and sends `--events` more events through
   its intake, as outbox relays do: `--senders` concurrent senders, one event per request
   (`/internal/events`), then in batches (`/internal/events/batch`). Timed until the
   sequencer has logged every one and a signed checkpoint covers them.
4. Proof latency at that size (p50, p99 of `--proofs` random proofs): inclusion and
   consistency proofs in process (the service's functions on one session) and over HTTP.
   Finally checks a proof against the signed checkpoint, so the figures are of a sound log.

Usage: python bench/audit.py [--entries 1000000] [--events 20000] [--senders 4]
       (PostgreSQL: ASSENT_BENCH_POSTGRES_URL, default the local server, trust auth)
"""

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from pydantic import SecretStr
from sqlalchemy import JSON, LargeBinary, text

from assent.protocol import Signer, canonical_json, leaf_hash, verify_envelope, verify_inclusion
from services.audit.checkpoint.service import checkpoint_service, proof_service
from services.audit.log.cache import HeadCache
from services.audit.log.repository import NewEntry
from services.audit.log.service import log_service
from services.contracts.audit import CHECKPOINT_PAYLOAD_TYPE, CheckpointProof
from services.contracts.events import Topic
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, PublicKeyRead
from services.kit.db import create_engine, create_sessionmaker
from services.kit.internal_token import TokenSigner, load_private_key
from services.stack import SERVICES, Stack, internal_signing_key, migrate, stack_environment

ADMIN_DSN = os.environ.get(
    "ASSENT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AUDIT = next(component for component in SERVICES if component.name == "audit")
PROOF_TARGET_MS = 10.0
APPEND_TARGET = 2_000.0


class Downloads:
    """Download events over a pool of licences and works, as a busy marketplace logs them."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._licences = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(5_000)]
        self._works = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(50_000)]
        self._buyer = uuid.UUID(int=rng.getrandbits(128))

    def envelope(self) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        return {
            "id": str(uuid.uuid4()),
            "topic": Topic.FILE_DOWNLOADED.value,
            "source": "delivery",
            "occurred_at": now,
            "payload": {
                "delivery_id": str(uuid.uuid4()),
                "licence_id": str(self._rng.choice(self._licences)),
                "buyer_id": str(self._buyer),
                "work_id": str(self._rng.choice(self._works)),
                "version_id": str(uuid.uuid4()),
                "downloaded_at": now,
            },
        }

    def entry(self) -> NewEntry:
        envelope = self.envelope()
        payload = envelope["payload"]
        return NewEntry(
            event_id=uuid.UUID(envelope["id"]),
            topic=envelope["topic"],
            source=envelope["source"],
            occurred_at=datetime.fromisoformat(envelope["occurred_at"]),
            entry=canonical_json(envelope),
            subjects=[
                ("licence", uuid.UUID(payload["licence_id"])),
                ("work", uuid.UUID(payload["work_id"])),
            ],
        )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def seed(database_url: str, signer: Signer, args: argparse.Namespace) -> None:
    """Step 2: the sequencer's append path at scale, beside sha256 of the same leaves."""
    engine = create_engine(database_url, schema="audit", pool_size=2)
    sessionmaker = create_sessionmaker(engine)
    downloads = Downloads(random.Random(7))
    # The sequencer's memory of recent subjects' heads, as the sequencer keeps it.
    heads = HeadCache()
    appending = hashing = 0.0
    done = 0
    try:
        while done < args.entries:
            batch = [downloads.entry() for _ in range(min(args.batch, args.entries - done))]
            started = time.perf_counter()
            for entry in batch:
                leaf_hash(entry.entry)
            hashing += time.perf_counter() - started
            started = time.perf_counter()
            async with sessionmaker() as session, session.begin():
                await log_service.take_sequencer_lock(session)
                await log_service.integrate(session, batch, cache=heads)
            appending += time.perf_counter() - started
            done += len(batch)
            if done % 100_000 == 0:
                print(f"  {done:,} entries, {done / appending:,.0f} appends/s so far", flush=True)
        async with sessionmaker() as session, session.begin():
            await checkpoint_service.checkpoint_if_due(
                session,
                signer=signer,
                interval=timedelta(0),
                now=datetime.now(UTC),
                cache=heads,
            )
    finally:
        await engine.dispose()
    appends = args.entries / appending
    hashes = args.entries / hashing
    print(f"sequencer append, {args.entries:,} entries in batches of {args.batch:,}:")
    print(f"  appends/s             {appends:12,.0f}   (target >= {APPEND_TARGET:,.0f})")
    print(f"  sha256 leaves/s       {hashes:12,.0f}   (the same leaf bytes, hashed alone)")
    print(f"  ratio append/sha256   {appends / hashes:12.4f}")


async def log_size(dsn: str) -> tuple[int, int]:
    """(entries in the log, size of the latest checkpoint)."""
    connection = await asyncpg.connect(dsn)
    try:
        size = await connection.fetchval(
            "SELECT coalesce(max(leaf_index) + 1, 0) FROM audit.log_entry"
        )
        signed = await connection.fetchval(
            "SELECT coalesce(max(tree_size), 0) FROM audit.checkpoint"
        )
        return int(size), int(signed)
    finally:
        await connection.close()


async def send_events(
    http: httpx.AsyncClient,
    url: str,
    token: Callable[[], str],
    dsn: str,
    args: argparse.Namespace,
    *,
    per_request: int,
) -> None:
    """Step 3: events through the service's intake until logged and signed; appends/s."""
    downloads = Downloads(random.Random(per_request))
    start_size, _ = await log_size(dsn)
    # One event a request is the relay before batching: a tenth of the events suffices.
    count = args.events if per_request > 1 else args.events // 10
    requests = [
        [downloads.envelope() for _ in range(per_request)] for _ in range(count // per_request)
    ]
    target = start_size + count
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for events in requests:
        queue.put_nowait(events)

    async def sender() -> None:
        while not queue.empty():
            events = queue.get_nowait()
            # A fresh token per request, as the relay signs them (they live a minute).
            headers = {"authorization": f"Bearer {token()}"}
            if per_request == 1:
                response = await http.post(
                    url + "/internal/events", json=events[0], headers=headers
                )
            else:
                response = await http.post(
                    url + "/internal/events/batch", json={"events": events}, headers=headers
                )
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(args.senders)))
    received = time.perf_counter() - started
    while True:
        size, signed = await log_size(dsn)
        if size >= target and signed >= target:
            break
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    print(
        f"  {per_request:>4} event(s) a request: {count / elapsed:10,.0f} appends/s "
        f"(received at {count / received:,.0f}/s; {count:,} events, {args.senders} senders, "
        "timed until logged and covered by a signed checkpoint)"
    )


async def latencies(run: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await run()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def report(label: str, timings: list[float], *, target: bool = True) -> None:
    p50, p99 = statistics.median(timings), percentile(timings, 0.99)
    verdict = ""
    if target:
        verdict = f"   ({'under' if p99 < PROOF_TARGET_MS else 'OVER'} {PROOF_TARGET_MS:.0f} ms)"
    print(f"  {label:<34} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms{verdict}")


async def proofs(
    database_url: str,
    http: httpx.AsyncClient,
    url: str,
    token: Callable[[], str],
    args: argparse.Namespace,
) -> None:
    """Step 4: proof latency at the log's full size, in process and over HTTP."""
    engine = create_engine(database_url, schema="audit", pool_size=2)
    sessionmaker = create_sessionmaker(engine)
    rng = random.Random(11)
    headers = {"authorization": f"Bearer {token()}"}
    try:
        async with sessionmaker() as session:
            latest = await proof_service.checkpoint(session)
            size = latest.checkpoint.checkpoint.tree_size
            print(f"proofs against the latest checkpoint, tree size {size:,} ({args.proofs} each):")

            async def inclusion() -> object:
                return await proof_service.inclusion(session, leaf_index=rng.randrange(size))

            async def consistency() -> object:
                return await proof_service.consistency(session, from_size=rng.randrange(1, size))

            report("inclusion, in process", await latencies(inclusion, args.proofs))
            report("consistency, in process", await latencies(consistency, args.proofs))

        async def inclusion_http() -> object:
            params = {"leaf_index": rng.randrange(size)}
            response = await http.get(url + "/v1/proofs/inclusion", params=params, headers=headers)
            response.raise_for_status()
            return response

        async def consistency_http() -> object:
            params = {"from_size": rng.randrange(1, size)}
            response = await http.get(
                url + "/v1/proofs/consistency", params=params, headers=headers
            )
            response.raise_for_status()
            return response

        async def floor_http() -> object:
            response = await http.get(url + "/healthz")
            response.raise_for_status()
            return response

        # The same client's round trip to the service for nothing at all: what any HTTP
        # answer costs here before the proof's own work.
        floor = await latencies(floor_http, args.proofs)
        report("HTTP floor (GET /healthz)", floor, target=False)
        report("inclusion, HTTP (audit service)", await latencies(inclusion_http, args.proofs))
        report("consistency, HTTP (audit service)", await latencies(consistency_http, args.proofs))

        # The figures are of a sound log: a random entry proves into the signed root.
        keys = (await http.get(url + "/v1/keys", headers=headers)).json()
        published = [PublicKeyRead.model_validate(key) for key in keys]
        checkpoint = CheckpointProof.model_validate(
            (await http.get(url + "/v1/checkpoint", headers=headers)).json()
        ).checkpoint
        verify_envelope(checkpoint.envelope, published, payload_type=CHECKPOINT_PAYLOAD_TYPE)
        index = rng.randrange(checkpoint.checkpoint.tree_size)
        async with sessionmaker() as session:
            proof = await proof_service.inclusion(
                session, leaf_index=index, tree_size=checkpoint.checkpoint.tree_size
            )
            entry, links = (
                await session.execute(
                    text("SELECT entry, links FROM log_entry WHERE leaf_index = :i").columns(
                        entry=LargeBinary, links=JSON
                    ),
                    {"i": index},
                )
            ).one()
        # A linked entry's leaf is over its event's hash and its links (the marker's and
        # older entries' over their bytes).
        leaf = (
            leaf_hash(entry)
            if links is None
            else leaf_hash(
                canonical_json({"event_sha256": sha256(entry).hexdigest(), "links": links})
            )
        )
        verify_inclusion(
            leaf,
            index,
            checkpoint.checkpoint.tree_size,
            [bytes.fromhex(h) for h in proof.hashes],
            bytes.fromhex(checkpoint.checkpoint.root_hash),
        )
        print(f"  entry {index:,} proves into the signed root: ok")
    finally:
        await engine.dispose()


async def through_service(
    stack: Stack, dsn: str, database_url: str, args: argparse.Namespace
) -> None:
    url = stack.url(AUDIT)
    # The gateway's key: it posts events of any topic, as the bench does.
    key = stack.env[internal_signing_key("gateway")]
    signer = TokenSigner(load_private_key(key, setting="gateway"), issuer="gateway")

    def token() -> str:
        return signer.sign_as_service(audience="audit")

    async with httpx.AsyncClient(timeout=60.0) as http:
        print("appends through the audit service's intake (its own process):")
        await send_events(http, url, token, dsn, args, per_request=1)
        await send_events(http, url, token, dsn, args, per_request=100)
        await proofs(database_url, http, url, token, args)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--proofs", type=int, default=300)
    parser.add_argument("--port", type=int, default=18400)
    args = parser.parse_args()
    name = f"assent_bench_audit_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    dsn = f"{ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    database_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            base = dict(os.environ, ASSENT_DATABASE_URL=database_url, ASSENT_LOG_LEVEL="WARNING")
            env = stack_environment(data_dir=Path(scratch), port=args.port, base=base)
            migrate(env)
            signer = Signer(
                SecretStr(env["ASSENT_AUDIT_SIGNING_KEY"]),
                purpose=CHECKPOINT_KEY_PURPOSE,
            )
            asyncio.run(seed(database_url, signer, args))
            stack = Stack(env=env, port=args.port, log_dir=Path(scratch) / "logs")
            stack.start_component(AUDIT)
            try:
                stack.wait_ready([AUDIT], timeout=60)
                asyncio.run(through_service(stack, dsn, database_url, args))
            finally:
                stack.stop()
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
