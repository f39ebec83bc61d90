"""A log kept before links began: migration 0003 appends the marker and does not rewrite
history, so a chain is proven complete back to its last entry before the marker, and
the verifier says that the entries before it cannot be."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import SecretStr

from assent.protocol import Frontier, check_chain, leaf_hash
from services.audit.app import create_app
from services.audit.chain.subjects import entry_bytes, subjects_of
from services.audit.sequencer import Sequencer
from services.contracts.events import EventEnvelope
from services.kit.db import UTCDateTime, create_engine, create_sessionmaker, utcnow
from services.kit.migrations import upgrade
from services.stack import SERVICES
from storage import StorageSettings
from tests.services.audit.conftest import audit_settings
from tests.services.audit.helpers import AuditApi, consent, grant, offer, withdrawal
from tests.services.catalogue.helpers import Actor

MIGRATIONS = next(c for c in SERVICES if c.name == "audit").migrations

_LOG = sa.table(
    "log_entry",
    *(sa.column(name) for name in ("leaf_index", "topic", "source", "entry")),
    sa.column("event_id", sa.Uuid()),
    sa.column("occurred_at", UTCDateTime()),
    sa.column("sequenced_at", UTCDateTime()),
)
_NODE = sa.table("tree_node", sa.column("level"), sa.column("index"), sa.column("hash"))
_SUBJECT = sa.table(
    "chain_subject", sa.column("kind"), sa.column("subject_id", sa.Uuid()), sa.column("leaf_index")
)


async def _log_as_before_links(url: str, events: list[Any]) -> None:
    """The entries as revision 0002's sequencer logged them: each leaf over its bytes."""
    engine = create_engine(url, schema=None, pool_size=1)
    frontier = Frontier.empty()
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            for index, event in enumerate(events):
                envelope = EventEnvelope.model_validate(event)
                entry = entry_bytes(envelope)
                await session.execute(
                    sa.insert(_LOG).values(
                        leaf_index=index,
                        event_id=envelope.id,
                        topic=envelope.topic.value,
                        source=envelope.source,
                        occurred_at=envelope.occurred_at,
                        entry=entry,
                        sequenced_at=utcnow(),
                    )
                )
                for (level, at), digest in frontier.append(leaf_hash(entry)):
                    await session.execute(
                        sa.insert(_NODE).values(level=level, index=at, hash=digest)
                    )
                for kind, subject in subjects_of(envelope):
                    await session.execute(
                        sa.insert(_SUBJECT).values(
                            kind=kind.value, subject_id=subject, leaf_index=index
                        )
                    )
    finally:
        await engine.dispose()


@pytest.fixture
async def legacy_app(tmp_path: Path, ines: Actor) -> AsyncIterator[tuple[FastAPI, uuid.UUID]]:
    assert MIGRATIONS is not None
    url = f"sqlite+aiosqlite:///{tmp_path}/audit.db"
    work = uuid.uuid4()
    await asyncio.to_thread(upgrade, MIGRATIONS, url, None, "0002")
    await _log_as_before_links(url, [consent(work, ines), offer(work)])
    await asyncio.to_thread(upgrade, MIGRATIONS, url, None)
    storage = StorageSettings(
        backend="local", local_root=tmp_path / "objects", signing_secret=SecretStr("s" * 48)
    )
    app = create_app(audit_settings(url, database_schema=None), storage)
    await app.state.object_store.ensure_bucket()
    yield app, work
    await app.state.http.aclose()
    await app.state.engine.dispose()


async def test_entries_before_the_marker_are_reported_as_not_provably_complete(
    legacy_app: tuple[FastAPI, uuid.UUID], ines: Actor, lab: Actor, auditor: Actor
) -> None:
    app, work = legacy_app
    sequencer: Sequencer = app.state.sequencer
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://audit.internal"
    ) as http:
        audit = AuditApi(http)
        await audit.post(grant(uuid.uuid4(), lab, [work]), withdrawal(work, ines))
        await sequencer.run_once()
        keys = await audit.keys(auditor)
        chain = await audit.work_chain(auditor, work)

    # The legacy entries at 0 and 1, the marker at 2, the linked grant and withdrawal.
    assert chain.links_begin_at == 2
    assert [(entry.index, entry.links is None) for entry in chain.entries] == [
        (0, True),
        (1, True),
        (3, False),
        (4, False),
    ]
    document = json.loads(chain.model_dump_json())
    check = check_chain(document, keys)
    assert check.ok, check.problems
    assert (
        f"work {work}: 3 entries back to log index 1; before the marker (log index 2) the log "
        "kept no links, so its earlier entries cannot be proven complete"
    ) in dict(check.facts)["completeness"]

    # Before the marker a gap cannot be seen, and the fact says so; from it on, it fails.
    without_first = json.loads(json.dumps(document))
    del without_first["entries"][0]
    assert check_chain(without_first, keys).ok
    without_offer = json.loads(json.dumps(document))
    del without_offer["entries"][1]
    assert [problem.message for problem in check_chain(without_offer, keys).problems] == [
        f"entry 2 (log index 3, event {chain.entries[2].event_id}) names log index 1 as the "
        f"previous entry of work {work}; the export does not hold it"
    ]
