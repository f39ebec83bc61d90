"""The embedded default: licensing on SQLite, its migrations, and its start-up checks."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from alembic import command
from fastapi import FastAPI

from services.contracts.events import Topic
from services.contracts.roles import Role
from services.kit.migrations import alembic_config, upgrade
from services.licensing.app import create_app
from services.licensing.models import LicenceLine
from services.stack import SERVICES
from tests.fixtures.database import fresh_database
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import (
    Api,
    catalogue_event,
    licensing_settings,
    make_quote,
    quote_line,
    service_headers,
)

MIGRATIONS = next(c for c in SERVICES if c.name == "licensing").migrations
LAB = Actor(str(uuid.uuid4()), frozenset({Role.BUYER}), "Lab")
RIVAL = Actor(str(uuid.uuid4()), frozenset({Role.BUYER}), "Rival Lab")
INES = Actor(str(uuid.uuid4()), frozenset({Role.CREATOR}), "Ines Creator")
ADMIN = Actor(str(uuid.uuid4()), frozenset({Role.ADMIN}), "Admin")


def _round_trip(url: str, schema: str | None) -> None:
    assert MIGRATIONS is not None
    upgrade(MIGRATIONS, url, schema)
    command.downgrade(alembic_config(MIGRATIONS, url, schema), "0001")
    upgrade(MIGRATIONS, url, schema)


@pytest.fixture
def scratch_postgres(postgres_server: str) -> Iterator[str]:
    yield from fresh_database(postgres_server, "licensing_migrations")


async def test_migrations_round_trip_on_sqlite(tmp_path: Path) -> None:
    await asyncio.to_thread(_round_trip, f"sqlite+aiosqlite:///{tmp_path}/licensing.db", None)


async def test_migrations_round_trip_on_postgresql(scratch_postgres: str) -> None:
    await asyncio.to_thread(_round_trip, scratch_postgres, "licensing")


def test_the_service_refuses_to_start_without_a_signing_key(tmp_path: Path) -> None:
    settings = licensing_settings(f"sqlite+aiosqlite:///{tmp_path}/l.db", None, signing_key="")

    with pytest.raises(ValueError, match="ASSENT_LICENSING_SIGNING_KEY"):
        create_app(settings)


@pytest.fixture
async def sqlite_app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    assert MIGRATIONS is not None
    url = f"sqlite+aiosqlite:///{tmp_path}/licensing.db"
    await asyncio.to_thread(upgrade, MIGRATIONS, url, None)
    app = create_app(licensing_settings(url, None))
    yield app
    await app.state.http.aclose()
    await app.state.engine.dispose()


async def test_buying_refunding_and_statements_work_on_sqlite(sqlite_app: FastAPI) -> None:
    async with sqlite_app.state.sessionmaker() as session:
        quote_id = await make_quote(
            session,
            LAB.id,
            [quote_line(1000, [(INES.id, 10_000)]), quote_line(7, [(INES.id, 10_000)])],
        )
        await session.commit()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sqlite_app), base_url="http://licensing.internal"
    ) as http:
        api = Api(http)
        await api.top_up(ADMIN, LAB, 1007)

        licence = await api.bought(LAB, str(quote_id), "once")
        replay = (await api.buy(LAB, str(quote_id), "once")).json()
        reused = await api.refused(
            LAB,
            "POST",
            "/v1/purchases",
            json={"quote_id": str(uuid.uuid4()), "idempotency_key": "once"},
        )
        certificate = await api.ok(LAB, "GET", f"/v1/licences/{licence['id']}/certificate")
        statement = await api.ok(INES, "GET", "/v1/earnings", params={"period": "day"})
        refunded = await api.ok(
            ADMIN, "POST", f"/v1/licences/{licence['id']}/refund", json={"reason": "test"}
        )
        check = await api.ok(ADMIN, "GET", "/v1/ledger/check")
        listed = await api.ok(LAB, "GET", "/v1/licences")

    assert (replay["replayed"], replay["licence"]["id"]) == (True, licence["id"])
    assert reused == (409, "IdempotencyKeyReused")
    assert certificate["certificate"]["licence_id"] == licence["id"]
    assert [p["amount_minor"] for p in statement["by_period"]] == [850 + 6]
    assert [b["balance_minor"] for b in statement["balances"]] == [856]
    assert refunded["status"] == "refunded"
    assert (check["transactions"], check["unbalanced_transactions"], check["totals"]) == (
        3,
        [],
        {"EUR": 0},
    )
    assert check["balance_mismatches"] == []
    assert [item["id"] for item in listed["items"]] == [licence["id"]]


async def test_a_sale_after_a_withdrawal_leaves_the_work_out_on_sqlite(sqlite_app: FastAPI) -> None:
    withdrawn, kept = quote_line(500, [(INES.id, 10_000)]), quote_line(70, [(INES.id, 10_000)])
    async with sqlite_app.state.sessionmaker() as session:
        quote_id = await make_quote(session, LAB.id, [withdrawn, kept])
        await session.commit()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sqlite_app), base_url="http://licensing.internal"
    ) as http:
        api = Api(http)
        await api.top_up(ADMIN, LAB, 1000)
        event = catalogue_event(Topic.WORK_WITHDRAWN, withdrawn.work_id)
        received = await http.post(
            "/internal/events", json=event, headers=service_headers("catalogue")
        )
        licence = await api.bought(LAB, str(quote_id))
        balance = await api.balance(LAB, LAB)

    assert received.status_code == 200, received.text
    assert [line["status"] for line in licence["lines"]] == ["excluded", "active"]
    assert (licence["total_minor"], balance) == (70, 930)


async def test_lines_sold_exclusively_before_the_window_column_keep_their_window(
    sqlite_app: FastAPI, tmp_path: Path
) -> None:
    """Migration 0005 reads each earlier line's window from the terms it was sold under."""
    work_id = uuid.uuid4()
    async with sqlite_app.state.sessionmaker() as session:
        line = quote_line(500, [(INES.id, 10_000)], work_id=work_id, exclusivity_days=30)
        quote_id = await make_quote(session, LAB.id, [line])
        await session.commit()
    transport = httpx.ASGITransport(app=sqlite_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://licensing.internal") as http:
        api = Api(http)
        await api.top_up(ADMIN, LAB, 500)
        licence = await api.bought(LAB, str(quote_id), "exclusive")
    await sqlite_app.state.engine.dispose()
    assert MIGRATIONS is not None
    url = f"sqlite+aiosqlite:///{tmp_path}/licensing.db"
    await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, url, None), "0004")
    await asyncio.to_thread(upgrade, MIGRATIONS, url, None)

    async with sqlite_app.state.sessionmaker() as session:
        sold = await session.get(LicenceLine, (uuid.UUID(licence["id"]), work_id))
        rival_line = quote_line(500, [(INES.id, 10_000)], work_id=work_id)
        rival_quote = await make_quote(session, RIVAL.id, [rival_line])
        await session.commit()
    async with httpx.AsyncClient(transport=transport, base_url="http://licensing.internal") as http:
        api = Api(http)
        await api.top_up(ADMIN, RIVAL, 500)
        refused = await api.refused(
            RIVAL,
            "POST",
            "/v1/purchases",
            json={"quote_id": str(rival_quote), "idempotency_key": "rival"},
        )

    assert sold is not None
    assert sold.exclusive_until is not None
    assert sold.exclusive_until - sold.starts_at == timedelta(days=30)
    assert refused == (409, "NothingToPurchase")
