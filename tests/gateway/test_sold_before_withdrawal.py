"""A line sold before its work is withdrawn is delivered on its terms and not refunded,
however late its delivery is built: licensing, delivery and the catalogue in process,
the buyer's view through the gateway."""

import os
import uuid
from collections import Counter

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.service import account_service
from services.contracts.events import EventEnvelope, Topic
from services.contracts.roles import Role
from services.delivery.builder import DeliveryBuilder
from services.kit.db import utcnow
from storage import ObjectStore
from storage.keys import work_version_key
from tests.fixtures.database import join_test_transaction
from tests.gateway.test_fanout import (
    ADMIN,
    catalogue_app,
    gateway,
    in_process,
    licensing_app,
    sessions,
    shared_catalogue_app,
    shared_delivery_app,
    shared_storage_settings,
)
from tests.services.catalogue.helpers import Actor
from tests.services.catalogue.helpers import Api as CatalogueApi
from tests.services.delivery.helpers import (
    DeliveryApi,
    licence_granted,
    licence_line,
    outbox_payloads,
)
from tests.services.licensing.helpers import Api as LicensingApi
from tests.services.licensing.helpers import listed_work, service_headers

__all__ = [
    "catalogue_app",
    "licensing_app",
    "sessions",
    "shared_catalogue_app",
    "shared_delivery_app",
    "shared_storage_settings",
]

LICENCE = """query Licence($id: ID!) { licence(id: $id) { __typename ... on Licence {
  status refunded { amountMinor } lines { workId status excludedReason }
  delivery { status entryCount excluded { workId reason } } } } }"""


async def test_a_line_sold_before_a_withdrawal_is_delivered_and_not_refunded(
    migrated_postgres: str,
    sessions: dict[str, AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    catalogue_app: FastAPI,
    licensing_app: FastAPI,
    shared_delivery_app: FastAPI,
) -> None:
    apps = {"catalogue": catalogue_app, "licensing": licensing_app, "delivery": shared_delivery_app}
    for name, app in apps.items():
        await join_test_transaction(app, sessions[name])
    account, issued = await account_service.register(
        sessions["gateway"], None, name="Early Lab", email="early@lab.test", role=Role.BUYER
    )
    buyer = Actor(subject=str(account.id), roles=frozenset({Role.BUYER}), name="Early Lab")
    creator = Actor(subject=str(uuid.uuid4()), roles=frozenset({Role.CREATOR}), name="Ines")
    work_id = await listed_work(sessions["catalogue"], creator, title="Harbour at dawn")
    transport = {name: httpx.ASGITransport(app=app) for name, app in apps.items()}
    async with (
        httpx.AsyncClient(transport=transport["catalogue"], base_url="http://c.test") as c_http,
        httpx.AsyncClient(transport=transport["licensing"], base_url="http://l.test") as l_http,
        httpx.AsyncClient(transport=transport["delivery"], base_url="http://d.test") as d_http,
    ):
        catalogue, licensing = CatalogueApi(c_http), LicensingApi(l_http)
        await licensing.top_up(ADMIN, buyer, 10_000)
        [work] = await catalogue.ok(buyer, "GET", "/v1/works", params={"id": str(work_id)})
        version = work["current_version"]
        store: ObjectStore = shared_delivery_app.state.object_store
        await store.put(work_version_key(work_id, uuid.UUID(version["id"])), os.urandom(100))

        # Sold, then withdrawn by its creator before delivery builds anything.
        quote = await licensing.quote_works(buyer, [work_id])
        licence = await licensing.bought(buyer, quote["id"])
        await catalogue.ok(creator, "POST", f"/v1/works/{work_id}/withdraw")
        granted = licence_granted(buyer, [licence_line(work)], licence_id=uuid.UUID(licence["id"]))
        await DeliveryApi(d_http).grant(granted)
        builder: DeliveryBuilder = shared_delivery_app.state.builder
        assert len(await builder.build_pending()) == 1

        # Delivery's announcement reaches licensing, as its outbox relay delivers it.
        [payload] = await outbox_payloads(sessions["delivery"], Topic.DELIVERY_ISSUED)
        event = EventEnvelope(
            id=uuid.uuid4(),
            topic=Topic.DELIVERY_ISSUED,
            source="delivery",
            occurred_at=utcnow(),
            payload=payload,
        )
        response = await l_http.post(
            "/internal/events", json=event.model_dump(mode="json"), headers=service_headers()
        )
        assert response.status_code == 200, response.text

    urls = {name: f"http://{name}.test" for name in (*apps, "audit")}
    async with gateway(
        migrated_postgres, sessions, monkeypatch, in_process(apps, Counter()), urls
    ) as client:
        data = await client.execute(LICENCE, {"id": licence["id"]}, key=issued.secret)

    seen = data["licence"]
    assert (seen["status"], seen["refunded"]["amountMinor"]) == ("ACTIVE", 0)
    assert seen["lines"] == [{"workId": str(work_id), "status": "ACTIVE", "excludedReason": None}]
    assert seen["delivery"] == {"status": "ISSUED", "entryCount": 1, "excluded": []}
