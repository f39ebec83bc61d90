"""Replicas side by side on one PostgreSQL schema: events arrive at both while both
sequencers run, and the log still gives every event exactly one place, with no gaps."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select

from assent.protocol import HEADS_TOPIC, MARKER_EVENT_ID, generate_seed, root_of
from services.audit.app import create_app
from services.audit.models import LogEntry, SignedCheckpoint
from services.audit.sequencer import Sequencer, SequencerPass
from services.kit.migrations import upgrade
from services.stack import SERVICES
from storage import StorageSettings
from tests.fixtures.database import fresh_database
from tests.services.audit.conftest import audit_settings
from tests.services.audit.helpers import (
    AuditApi,
    consent,
    logged_leaf,
    verified_checkpoint,
    verify_extends,
)
from tests.services.catalogue.helpers import Actor

MIGRATIONS = next(c for c in SERVICES if c.name == "audit").migrations
EVENTS_PER_REPLICA = 60


@pytest.fixture
def scratch_postgres(postgres_server: str) -> Iterator[str]:
    """A database of its own: the replicas commit, which the shared schema must not see."""
    yield from fresh_database(postgres_server, "audit_replicas")


@pytest.fixture
async def replicas(scratch_postgres: str, tmp_path: Path) -> AsyncIterator[list[FastAPI]]:
    assert MIGRATIONS is not None
    await asyncio.to_thread(upgrade, MIGRATIONS, scratch_postgres, "audit")
    storage = StorageSettings(
        backend="local", local_root=tmp_path, signing_secret=SecretStr("s" * 48)
    )
    key = generate_seed()
    # Small batches, so the two sequencers' transactions interleave many times.
    settings = audit_settings(scratch_postgres, signing_key=key, sequencer_batch_size=7)
    apps = [create_app(settings, storage) for _ in range(2)]
    yield apps
    for app in apps:
        await app.state.http.aclose()
        await app.state.engine.dispose()


async def test_two_replicas_never_give_one_place_twice_nor_leave_a_gap(
    replicas: list[FastAPI], ines: Actor, auditor: Actor
) -> None:
    sequencers: list[Sequencer] = [app.state.sequencer for app in replicas]
    posted: list[str] = []
    received: list[list[str]] = [[], []]
    receiving = True

    passes: dict[int, list[SequencerPass]] = {0: [], 1: []}

    def raced() -> bool:
        return all(
            any(done.sequenced for done in done_by_one)
            and any(done.skipped for done in done_by_one)
            for done_by_one in passes.values()
        )

    async def receive(app: FastAPI, mine: list[str]) -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://audit.internal"
        ) as http:
            # More events while the race has not yet shown both sides (a loaded machine
            # may let one replica win every pass for a while).
            while len(mine) < EVENTS_PER_REPLICA or (
                not raced() and len(mine) < 5 * EVENTS_PER_REPLICA
            ):
                event = consent(uuid.uuid4(), ines)
                await AuditApi(http).post(event)
                posted.append(event["id"])
                mine.append(event["id"])

    async def sequence(replica: int) -> None:
        while receiving:
            passes[replica].append(await sequencers[replica].run_once())
            await asyncio.sleep(0)

    sequencing = [asyncio.create_task(sequence(replica)) for replica in (0, 1)]
    await asyncio.gather(
        *(receive(app, mine) for app, mine in zip(replicas, received, strict=True))
    )
    receiving = False
    await asyncio.gather(*sequencing)
    await sequencers[0].run_once()
    # The race did happen: each replica sequenced, and each found the other at work.
    for done_by_one in passes.values():
        assert any(done.sequenced for done in done_by_one)
        assert any(done.skipped for done in done_by_one)

    async with replicas[1].state.sessionmaker() as session:
        logged = (await session.execute(select(LogEntry).order_by(LogEntry.leaf_index))).scalars()
        entries = list(logged.all())
        sizes = list(
            (await session.scalars(select(SignedCheckpoint.tree_size).order_by("tree_size"))).all()
        )
    # The marker entry first (links begin there), then every posted event once, and each
    # checkpoint's heads leaf as its last leaf.
    assert entries[0].event_id == MARKER_EVENT_ID
    heads = [entry.leaf_index + 1 for entry in entries if entry.topic == HEADS_TOPIC]
    assert heads == sizes
    assert [entry.leaf_index for entry in entries] == list(range(len(posted) + 1 + len(heads)))
    events = [entry for entry in entries[1:] if entry.topic != HEADS_TOPIC]
    assert sorted(str(entry.event_id) for entry in events) == sorted(posted)
    # Each replica's events keep the order it received them in.
    place = {str(entry.event_id): entry.leaf_index for entry in entries}
    for in_arrival_order in received:
        places = [place[event_id] for event_id in in_arrival_order]
        assert places == sorted(places)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=replicas[0]), base_url="http://audit.internal"
    ) as http:
        audit = AuditApi(http)
        keys = await audit.keys(auditor)
        latest = verified_checkpoint((await audit.checkpoint(auditor)).checkpoint, keys)
        assert latest.tree_size == len(entries) == sizes[-1]
        assert latest.root_hash == root_of([logged_leaf(entry) for entry in entries]).hex()
        for size in sizes[:-1]:
            proof = await audit.checkpoint(auditor, consistent_with=size)
            old = await audit.checkpoint(auditor, tree_size=size)
            assert proof.consistency is not None
            verify_extends(
                verified_checkpoint(old.checkpoint, keys), latest, proof.consistency.hashes
            )
