"""The embedded default: the catalogue on SQLite with FTS5 and the local object store."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text

from services.catalogue.app import create_app
from services.catalogue.config import Settings
from services.contracts.catalogue import MediaType, Use
from services.contracts.roles import Role
from services.kit.migrations import upgrade
from services.stack import SERVICES
from storage import StorageSettings
from storage.keys import work_version_key
from tests.fixtures.internal_keys import key_settings
from tests.services.catalogue.helpers import (
    Actor,
    Api,
    consent_payload,
    create_work,
    list_work,
)

MIGRATIONS = next(c for c in SERVICES if c.name == "catalogue").migrations
INES = Actor(str(uuid.uuid4()), frozenset({Role.CREATOR}), "Ines Creator")
LAB = Actor(str(uuid.uuid4()), frozenset({Role.BUYER}), "Lab")


@pytest.fixture
async def sqlite_app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    assert MIGRATIONS is not None
    url = f"sqlite+aiosqlite:///{tmp_path}/catalogue.db"
    await asyncio.to_thread(upgrade, MIGRATIONS, url, None)
    settings = Settings.model_validate({"database_url": url, **key_settings("catalogue")})
    storage = StorageSettings(
        backend="local", local_root=tmp_path / "objects", signing_secret=SecretStr("s" * 48)
    )
    app = create_app(settings, storage)
    await app.state.object_store.ensure_bucket()
    yield app
    await app.state.http.aclose()
    await app.state.engine.dispose()


@pytest.fixture
async def sqlite_api(sqlite_app: FastAPI) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sqlite_app), base_url="http://catalogue.internal"
    ) as http:
        yield Api(http)


async def test_search_on_sqlite_uses_fts5_and_survives_hostile_input(
    sqlite_app: FastAPI, sqlite_api: Api
) -> None:
    async with sqlite_app.state.sessionmaker() as session:
        titles = ["Harbour lights", "Night harbour study", "Market noise", "Harbour draft"]
        ids = {}
        for minute, title in enumerate(titles):
            work = await create_work(
                session,
                owner=INES,
                title=title,
                description="a recording of harbours" if title == "Market noise" else "",
                tags=["night"] if "Night" in title else [],
                media_type=MediaType.AUDIO if "noise" in title else MediaType.IMAGE,
            )
            if "draft" not in title:
                await list_work(
                    session, work, owner=INES, uses=[Use.TRAINING], price_minor=100 + minute
                )
            ids[title] = str(work.id)
        await session.commit()
        indexed = (await session.execute(text("SELECT count(*) FROM work_fts"))).scalar()
    assert indexed == 4

    relevance = await sqlite_api.search(LAB, query="harbours")
    night = await sqlite_api.search(LAB, query="harbour", tags=["night"], sort="price_desc")
    mine = await sqlite_api.search(INES, mine="true", query="draft")
    pages = [await sqlite_api.search(LAB, query="harbour", first=1)]
    while pages[-1]["next_cursor"]:
        pages.append(
            await sqlite_api.search(LAB, query="harbour", first=1, after=pages[-1]["next_cursor"])
        )

    names = {work_id: title for title, work_id in ids.items()}
    found = [names[w["id"]] for w in relevance["items"]]
    assert set(found) == {"Harbour lights", "Night harbour study", "Market noise"}
    assert found[-1] == "Market noise", "a title match outranks a description match"
    assert [names[w["id"]] for w in night["items"]] == ["Night harbour study"]
    assert [names[w["id"]] for w in mine["items"]] == ["Harbour draft"]
    assert [names[w["id"]] for page in pages for w in page["items"]] == found
    for hostile in ['"', "title:x", "NEAR(a b)", "a OR", "*", "-", "') --", "!!!", "\x00"]:
        for sort in ("relevance", "newest"):
            response = await sqlite_api.call(
                LAB, "GET", "/v1/works/search", params={"query": hostile, "sort": sort}
            )
            assert response.status_code in (200, 400), (hostile, response.text)
            assert response.status_code == 200 or response.json()["error"] == "InvalidRequest"


async def test_a_work_is_created_uploaded_and_listed_on_sqlite(
    sqlite_app: FastAPI, sqlite_api: Api
) -> None:
    data = b"an embedded-mode poem"
    created = await sqlite_api.create_work(INES, data, title="Embedded poem")
    work_id = created["work"]["id"]
    await sqlite_app.state.object_store.put(
        work_version_key(work_id, created["upload"]["version_id"]), data
    )

    completed = await sqlite_api.complete(INES, work_id)
    await sqlite_api.ok(
        INES,
        "POST",
        f"/v1/works/{work_id}/consents",
        json=consent_payload(Use.TRAINING),
        status=201,
    )
    offer = await sqlite_api.ok(
        INES,
        "PUT",
        f"/v1/works/{work_id}/offer",
        json={
            "price_minor": 500,
            "currency": "GBP",
            "terms": {
                "uses": ["training"],
                "commercial_use": True,
                "attribution_required": True,
                "duration_days": 10,
            },
        },
    )

    assert completed["completed"] is True
    assert offer["terms"]["territory"] == ["WORLD"]
    found = await sqlite_api.search(LAB, query="poem", uses=["training"], currency="GBP")
    assert [w["id"] for w in found["items"]] == [work_id]
