"""The sequencer as it runs in the service, in the background on the kit's polling worker:
woken by its own app's intake, and by a timer when a checkpoint comes due, never left to
wait for its poll."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from services.audit.app import create_app
from services.audit.sequencer import Sequencer
from services.kit.migrations import upgrade
from services.stack import SERVICES
from storage import StorageSettings
from tests.fixtures.faults import eventually
from tests.services.audit.conftest import audit_settings
from tests.services.audit.helpers import AuditApi, consent
from tests.services.catalogue.helpers import Actor

MIGRATIONS = next(c for c in SERVICES if c.name == "audit").migrations
# Far longer than any wait below: whatever happens in these tests, a poll did not do it.
POLL_SECONDS = 600.0
# Generous: the machine is shared, but still far below the poll.
WITHIN_SECONDS = 60.0
CHECKPOINT_INTERVAL_SECONDS = 1.0


@pytest.fixture
async def audit(tmp_path: Path) -> AsyncIterator[AuditApi]:
    """An audit app on SQLite whose sequencer runs in the background, as in the service."""
    assert MIGRATIONS is not None
    url = f"sqlite+aiosqlite:///{tmp_path}/audit.db"
    await asyncio.to_thread(upgrade, MIGRATIONS, url, None)
    storage = StorageSettings(
        backend="local", local_root=tmp_path / "objects", signing_secret=SecretStr("s" * 48)
    )
    settings = audit_settings(
        url,
        database_schema=None,
        sequencer_poll_seconds=POLL_SECONDS,
        checkpoint_interval_seconds=CHECKPOINT_INTERVAL_SECONDS,
    )
    app = create_app(settings, storage)
    await app.state.object_store.ensure_bucket()
    sequencer: Sequencer = app.state.sequencer
    task = asyncio.create_task(sequencer.run())
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://audit.internal"
        ) as http:
            yield AuditApi(http)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await app.state.http.aclose()
        await app.state.engine.dispose()


async def _signed(audit: AuditApi, auditor: Actor, *works: uuid.UUID) -> bool:
    """Each work's entry is in the log and proven against a signed checkpoint."""
    for work in works:
        response = await audit.http.get(f"/v1/chains/works/{work}", headers=audit.headers(auditor))
        if response.status_code != 200 or response.json()["pending_entries"] != 0:
            return False
    return True


async def test_an_event_received_is_logged_and_signed_without_waiting_for_a_poll(
    audit: AuditApi, ines: Actor, auditor: Actor
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    await audit.post(consent(first, ines))
    await eventually(
        lambda: _signed(audit, auditor, first),
        what="the first entry signed",
        within=WITHIN_SECONDS,
    )
    # The sequencer is idle now, with nothing due, until its poll or a wake-up; past the
    # interval, the next checkpoint may be signed as soon as the entry is logged.
    await asyncio.sleep(CHECKPOINT_INTERVAL_SECONDS)
    await audit.post(consent(second, ines))

    await eventually(
        lambda: _signed(audit, auditor, second),
        what="the next entry signed",
        within=WITHIN_SECONDS,
    )


async def test_a_checkpoint_held_back_by_its_interval_is_signed_when_it_comes_due(
    audit: AuditApi, ines: Actor, auditor: Actor
) -> None:
    first, later, last = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await audit.post(consent(first, ines))
    await eventually(
        lambda: _signed(audit, auditor, first),
        what="the first entry signed",
        within=WITHIN_SECONDS,
    )
    # Within the interval of the first checkpoint: logged at once, signed once it is due.
    await audit.post(consent(later, ines), consent(last, ines))

    await eventually(
        lambda: _signed(audit, auditor, later, last),
        what="the later entries signed",
        within=WITHIN_SECONDS,
    )
