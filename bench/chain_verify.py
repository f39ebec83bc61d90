"""Verifying a chain of 10,000 entries offline, with its completeness and without it.

1. Creates a scratch PostgreSQL database and applies the audit log's migrations (which
   append the marker entry where links begin).
2. Logs a work's chain through the sequencer's own append (`log_service.integrate`, in
   batches of `--batch`, each one transaction): a consent, an offer and a licence grant,
   then `--entries` entries in all, the rest downloads of the work under that licence,
   interleaved with `--noise` unrelated downloads of other works per chain entry, so the
   proofs are those of a log larger than the chain. Signs a checkpoint.
3. Exports the work's chain as an auditor would get it (the chain service, in process),
   writes it to JSON, and prints its size, bytes per inclusion proof and per head proof.
4. Verifies the export offline (`check_chain`, from the JSON text) `--runs` times, and
   the same export with links ignored (its heads leaf and head proofs removed and its
   checkpoint re-signed without a heads root: every check but completeness, which then
   fails at once for want of the heads leaf) in the same run, and prints both times and
   their ratio.

Usage: python bench/chain_verify.py [--entries 10000] [--noise 3] [--runs 3]
       (PostgreSQL: ASSENT_BENCH_POSTGRES_URL, default the local server, trust auth)
"""

import argparse
import asyncio
import hashlib
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import BaseModel, SecretStr

from assent.protocol import Signer, canonical_json, check_chain
from services.audit.chain.service import chain_service
from services.audit.chain.subjects import entry_bytes, subjects_of
from services.audit.checkpoint.service import checkpoint_service
from services.audit.log.repository import NewEntry
from services.audit.log.service import log_service
from services.contracts.audit import CHECKPOINT_PAYLOAD_TYPE, ChainRead, Checkpoint
from services.contracts.catalogue import (
    ConsentKind,
    ConsentRecorded,
    MediaType,
    OfferPublished,
    Terms,
    Use,
)
from services.contracts.delivery import FileDownloaded
from services.contracts.events import EventEnvelope, Topic
from services.contracts.licensing import LicenceGranted, LicenceLineRead, LicenceLineStatus
from services.contracts.roles import Role
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, Envelope
from services.kit.db import create_engine, create_sessionmaker
from services.kit.internal_token import Caller
from services.stack import migrate, stack_environment

ADMIN_DSN = os.environ.get(
    "ASSENT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


TERMS = Terms(
    uses=[Use.TRAINING], commercial_use=True, attribution_required=True, duration_days=365
)


def _logged(topic: Topic, payload: BaseModel) -> NewEntry:
    """The entry intake would store for the event: its bytes and its chain subjects."""
    envelope = EventEnvelope(
        id=uuid.uuid4(),
        topic=topic,
        source="bench",
        occurred_at=datetime.now(UTC),
        payload=payload.model_dump(mode="json"),
    )
    return NewEntry(
        event_id=envelope.id,
        topic=topic.value,
        source="bench",
        occurred_at=envelope.occurred_at,
        entry=entry_bytes(envelope),
        subjects=subjects_of(envelope),
    )


def _download(licence: uuid.UUID, buyer: uuid.UUID, work: uuid.UUID) -> NewEntry:
    now = datetime.now(UTC)
    return _logged(
        Topic.FILE_DOWNLOADED,
        FileDownloaded(
            delivery_id=uuid.uuid4(),
            licence_id=licence,
            buyer_id=buyer,
            work_id=work,
            version_id=uuid.uuid4(),
            downloaded_at=now,
        ),
    )


def _chain_entries(
    work: uuid.UUID, licence: uuid.UUID, buyer: uuid.UUID, count: int
) -> list[NewEntry]:
    """A work consented to, offered and licensed, then downloaded again and again."""
    now = datetime.now(UTC)
    line = LicenceLineRead(
        work_id=work,
        version_id=uuid.uuid4(),
        title="Evening over the estuary",
        media_type=MediaType.IMAGE,
        file_name="estuary.png",
        size=1_000,
        sha256="0" * 64,
        attribution="A creator",
        terms_id="t" * 64,
        terms=TERMS,
        price_minor=1_000,
        starts_at=now,
        ends_at=now + timedelta(days=365),
        status=LicenceLineStatus.ACTIVE,
        excluded_reason=None,
    )
    opening = [
        _logged(
            Topic.CONSENT_GIVEN,
            ConsentRecorded(
                consent_id=uuid.uuid4(),
                work_id=work,
                kind=ConsentKind.GIVEN,
                uses=[Use.TRAINING],
                statement_version="2026-01",
                statement_sha256=hashlib.sha256(b"I agree").hexdigest(),
                given_by=uuid.uuid4(),
                given_at=now,
            ),
        ),
        _logged(
            Topic.OFFER_PUBLISHED,
            OfferPublished(
                offer_id=uuid.uuid4(),
                work_id=work,
                price_minor=1_000,
                currency="EUR",
                terms_id="t" * 64,
                terms=TERMS,
                published_at=now,
            ),
        ),
        _logged(
            Topic.LICENCE_GRANTED,
            LicenceGranted(
                licence_id=licence,
                buyer_id=buyer,
                buyer_name="Bench Lab",
                bundle_id=uuid.uuid4(),
                quote_id=uuid.uuid4(),
                uses=[Use.TRAINING],
                currency="EUR",
                total_minor=1_000,
                granted_at=now,
                lines=[line],
            ),
        ),
    ]
    return opening + [_download(licence, buyer, work) for _ in range(count - len(opening))]


async def build(database_url: str, signer: Signer, args: argparse.Namespace) -> ChainRead:
    engine = create_engine(database_url, schema="audit", pool_size=2)
    sessionmaker = create_sessionmaker(engine)
    rng = random.Random(3)
    work, licence, buyer = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    others = [(uuid.uuid4(), uuid.uuid4()) for _ in range(1_000)]
    chain = _chain_entries(work, licence, buyer, args.entries)
    log: list[NewEntry] = []
    for entry in chain:
        log.append(entry)
        for _ in range(args.noise):
            other_licence, other_work = rng.choice(others)
            log.append(_download(other_licence, buyer, other_work))
    started = time.perf_counter()
    try:
        for start in range(0, len(log), args.batch):
            async with sessionmaker() as session, session.begin():
                await log_service.integrate(session, log[start : start + args.batch])
        async with sessionmaker() as session, session.begin():
            await checkpoint_service.checkpoint_if_due(
                session, signer=signer, interval=timedelta(0), now=datetime.now(UTC)
            )
        logged = time.perf_counter() - started
        print(f"logged {len(log):,} entries ({len(chain):,} in the chain) in {logged:.1f} s")
        auditor = Caller(subject="bench:auditor", roles=frozenset({Role.AUDITOR}), issuer="bench")
        async with sessionmaker() as session:
            started = time.perf_counter()
            read = await chain_service.work_chain(session, auditor, work)
            print(f"exported the chain (in process) in {time.perf_counter() - started:.2f} s")
        return read
    finally:
        await engine.dispose()


def _without_links(document: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """The same export with links ignored: no heads leaf, head proofs or marker, against
    the same checkpoint re-signed without its heads root, so `check_chain` checks
    everything but completeness, which fails at once (each linked leaf is still rebuilt
    from its event hash and links, as its inclusion proof needs)."""
    plain: dict[str, Any] = json.loads(json.dumps(document))
    plain["heads"] = []
    plain["heads_leaf"] = None
    plain["links_begin_at"] = None
    checkpoint = Checkpoint.model_validate(plain["checkpoint"]["checkpoint"])
    checkpoint = checkpoint.model_copy(update={"subject_heads_root": None})
    envelope: Envelope = signer.sign(
        CHECKPOINT_PAYLOAD_TYPE, canonical_json(checkpoint.model_dump(mode="json"))
    )
    plain["checkpoint"]["checkpoint"] = checkpoint.model_dump(mode="json")
    plain["checkpoint"]["envelope"] = envelope.model_dump(mode="json")
    return plain


def measure(read: ChainRead, signer: Signer, args: argparse.Namespace, scratch: Path) -> None:
    path = scratch / "chain.json"
    path.write_text(read.model_dump_json())
    text = path.read_text()
    document = json.loads(text)
    entries = document["entries"]
    proofs = [len(json.dumps(entry["inclusion_proof"], separators=(",", ":"))) for entry in entries]
    heads = [len(json.dumps(head, separators=(",", ":"))) for head in document["heads"]]
    committed = json.dumps(document["heads_leaf"], separators=(",", ":"))
    print(f"export: {len(text):,} bytes, {len(entries):,} entries, {len(heads)} head proofs")
    print(
        f"  inclusion proof     {statistics.mean(proofs):8.0f} bytes each "
        f"(mean; max {max(proofs):,})"
    )
    print(f"  head proof          {statistics.mean(heads):8.0f} bytes each (bucket and path)")
    print(f"  heads leaf          {len(committed):8,} bytes (its bytes and inclusion proof)")
    print(f"  whole export        {len(text) / len(entries):8.0f} bytes per entry")
    keys = [signer.published()]
    plain = _without_links(document, signer)
    linked_times, plain_times = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        check = check_chain(json.loads(text), keys)
        linked_times.append(time.perf_counter() - started)
        assert check.ok, check.problems[:3]
        started = time.perf_counter()
        baseline = check_chain(plain, keys)
        plain_times.append(time.perf_counter() - started)
        failed = [problem.message for problem in baseline.problems]
        assert len(failed) == 1, failed[:3]
        assert "carries no heads leaf" in failed[0], failed
    linked, without = min(linked_times), min(plain_times)
    print(f"offline verification of {len(entries):,} entries (best of {args.runs}):")
    print(f"  with completeness   {linked:8.3f} s   ({dict(check.facts)['completeness'][:90]}...)")
    print(f"  links ignored       {without:8.3f} s   (every other check, same entries)")
    print(f"  ratio               {linked / without:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--noise", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    name = f"assent_bench_chain_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    dsn = f"{ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    database_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            base = dict(os.environ, ASSENT_DATABASE_URL=database_url, ASSENT_LOG_LEVEL="WARNING")
            env = stack_environment(data_dir=Path(scratch), port=18490, base=base)
            migrate(env)
            signer = Signer(
                SecretStr(env["ASSENT_AUDIT_SIGNING_KEY"]), purpose=CHECKPOINT_KEY_PURPOSE
            )
            read = asyncio.run(build(database_url, signer, args))
            measure(read, signer, args, Path(scratch))
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
