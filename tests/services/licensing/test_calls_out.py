"""No transaction of licensing stays open while it waits on another process.

On SQLite a transaction holds the database's write lock from its first statement: a
quote that read its bundle and then waited on the catalogue kept every other writer of
licensing (a relay, a purchase, an event from delivery) waiting until a timeout.
"""

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.contracts.roles import Role
from services.kit.client import HttpxTransport
from services.kit.migrations import upgrade
from services.licensing.app import create_app
from services.stack import SERVICES
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import CATALOGUE_URL, Api, licensing_settings

MIGRATIONS = next(c for c in SERVICES if c.name == "licensing").migrations
LAB = Actor(str(uuid.uuid4()), frozenset({Role.BUYER}), "Lab")


def _another_writer_gets_in(database: Path) -> bool:
    """Whether a second connection can take the write lock now, without waiting."""
    connection = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        connection.close()


@pytest.fixture
async def database(tmp_path: Path) -> Path:
    assert MIGRATIONS is not None
    path = tmp_path / "licensing.db"
    await asyncio.to_thread(upgrade, MIGRATIONS, f"sqlite+aiosqlite:///{path}", None)
    return path


@pytest.fixture
async def writers_during_calls(database: Path) -> AsyncIterator[tuple[FastAPI, list[bool]]]:
    """Licensing on SQLite, with a catalogue that checks, while it answers, whether
    another writer could use licensing's database."""
    seen: list[bool] = []

    async def works(_request: Request) -> JSONResponse:
        seen.append(_another_writer_gets_in(database))
        return JSONResponse([])

    async def search(_request: Request) -> JSONResponse:
        seen.append(_another_writer_gets_in(database))
        return JSONResponse({"items": [], "next_cursor": None})

    catalogue = Starlette(routes=[Route("/v1/works", works), Route("/v1/works/search", search)])
    app = create_app(licensing_settings(f"sqlite+aiosqlite:///{database}", None))
    await app.state.http.aclose()
    app.state.http = HttpxTransport(
        httpx.AsyncClient(mounts={CATALOGUE_URL: httpx.ASGITransport(app=catalogue)})
    )
    yield app, seen
    await app.state.http.aclose()
    await app.state.engine.dispose()


async def test_a_quote_holds_no_transaction_while_it_reads_the_catalogue(
    writers_during_calls: tuple[FastAPI, list[bool]],
) -> None:
    app, seen = writers_during_calls
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://licensing.internal"
    ) as http:
        api = Api(http)
        quote = await api.quote_works(LAB, [uuid.uuid4()])

    assert [e["reason"] for e in quote["excluded"]] == ["not_found"]
    assert seen == [True]


async def test_a_bundle_holds_no_transaction_while_it_searches_the_catalogue(
    writers_during_calls: tuple[FastAPI, list[bool]],
) -> None:
    app, seen = writers_during_calls
    bundle = {"name": "Search", "uses": ["training"], "currency": "EUR", "search": {"query": "sea"}}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://licensing.internal"
    ) as http:
        refused = await Api(http).refused(LAB, "POST", "/v1/bundles", json=bundle)

    assert refused == (400, "InvalidRequest")
    assert seen == [True]
