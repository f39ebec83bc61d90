import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.contracts.events import SUBSCRIBERS, AccountRegistered
from services.contracts.roles import Role
from services.kit.app import create_service_app
from services.kit.outbox import OutboxDelivery, emit
from services.kit.settings import ServiceSettings
from storage import ObjectStore, StorageSettings, create_object_store
from tests.fixtures.internal_keys import key_settings, signer

# The outbox is exercised with a topic only the audit log receives, so the assertions do
# not depend on which services subscribe to account events.
AUDIT_ONLY_TOPIC = next(
    topic for topic, receivers in SUBSCRIBERS.items() if receivers == ("audit",)
)


def _settings(database_url: str) -> ServiceSettings:
    return ServiceSettings.model_validate(
        {
            "database_url": database_url,
            "database_schema": "catalogue",
            "database_pool_size": 2,
            **key_settings("catalogue"),
        }
    )


@asynccontextmanager
async def _serving(
    database_url: str, object_store: ObjectStore | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The catalogue's kit app in process; its relay is not started (no lifespan)."""
    app: FastAPI = create_service_app(
        "catalogue", _settings(database_url), object_store=object_store
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://catalogue.internal"
        ) as client:
            yield client
    finally:
        await app.state.http.aclose()
        await app.state.engine.dispose()


def _token(*roles: Role) -> dict[str, str]:
    token = signer("gateway").sign(
        subject="account:operator", roles=frozenset(roles), audience="catalogue"
    )
    return {"authorization": f"Bearer {token}"}


def _closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/nothing"


async def test_health_answers_without_checking_dependencies() -> None:
    async with _serving(_closed_port_url()) as client:
        response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_the_database_answers(migrated_postgres: str) -> None:
    async with _serving(migrated_postgres) as client:
        response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "database_write": "ok"},
    }


async def test_not_ready_when_the_database_is_down() -> None:
    async with _serving(_closed_port_url()) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("unavailable: ")


def _local_store(root: Path) -> ObjectStore:
    return create_object_store(
        StorageSettings(backend="local", local_root=root, signing_secret=SecretStr("s" * 48))
    )


async def test_ready_when_the_database_and_the_object_store_answer(
    migrated_postgres: str, tmp_path: Path
) -> None:
    async with _serving(migrated_postgres, _local_store(tmp_path / "objects")) as client:
        response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "database_write": "ok", "object_store": "ok"},
    }


async def test_not_ready_when_the_object_store_is_unusable(
    migrated_postgres: str, tmp_path: Path
) -> None:
    # A file where the store's directory should be: no directory can be made under it.
    blocker = tmp_path / "objects"
    blocker.write_text("not a directory")

    async with _serving(migrated_postgres, _local_store(blocker)) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["object_store"].startswith("unavailable: ")


async def test_status_needs_an_admin(migrated_postgres: str) -> None:
    async with _serving(migrated_postgres) as client:
        anonymous = await client.get("/v1/status")
        creator = await client.get("/v1/status", headers=_token(Role.CREATOR))

    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "Unauthenticated"
    assert creator.status_code == 403
    assert creator.json()["error"] == "Forbidden"


async def test_status_shows_the_schema_revision_and_the_outbox_backlog(
    migrated_postgres: str, catalogue_db: async_sessionmaker[AsyncSession]
) -> None:
    async with catalogue_db() as session:
        revision = await session.scalar(text("SELECT version_num FROM alembic_version"))
    async with _serving(migrated_postgres) as client:
        before = (await client.get("/v1/status", headers=_token(Role.ADMIN))).json()
        async with catalogue_db() as session:
            event_id = emit(
                session,
                AUDIT_ONLY_TOPIC,
                AccountRegistered(account_id=uuid.uuid4(), name="Lab", roles=["buyer"]),
            )
            await session.commit()
        try:
            response = await client.get("/v1/status", headers=_token(Role.ADMIN))
        finally:
            async with catalogue_db() as session:
                await session.execute(
                    delete(OutboxDelivery).where(OutboxDelivery.event_id == event_id)
                )
                await session.commit()

    assert response.status_code == 200
    status = response.json()
    assert status["service"] == "catalogue"
    assert status["schema_revision"] == revision
    assert status["outbox_pending"] == before["outbox_pending"] + 1
    assert status["outbox_oldest_pending_at"] is not None
    assert datetime.fromisoformat(status["outbox_oldest_pending_at"]).tzinfo is not None
    assert datetime.fromisoformat(status["checked_at"]).tzinfo is not None


async def test_errors_have_the_shared_shape(migrated_postgres: str) -> None:
    async with _serving(migrated_postgres) as client:
        response = await client.get("/v1/status", headers={"authorization": "Bearer nonsense"})

    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthenticated",
        "detail": "the internal token is not valid",
    }
    assert "x-request-id" in response.headers
