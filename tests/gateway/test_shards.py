"""A buyer asks for its delivery's WebDataset shards through GraphQL, sees them once
built, and fetches each through the gateway's checked redirect: the catalogue, licensing
and delivery in process."""

import hashlib
import os
import uuid
from collections import Counter

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.service import account_service
from gateway.downloads import LINK_EXPIRES_HEADER
from services.contracts.roles import Role
from services.delivery.builder import DeliveryBuilder
from services.delivery.shards import ShardBuilder
from storage import ObjectStore
from storage.keys import work_version_key
from tests.fixtures.database import join_test_transaction
from tests.gateway.test_fanout import (
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
from tests.services.delivery.helpers import DeliveryApi, licence_granted, licence_line
from tests.services.licensing.helpers import listed_work

__all__ = [
    "catalogue_app",
    "licensing_app",
    "sessions",
    "shared_catalogue_app",
    "shared_delivery_app",
    "shared_storage_settings",
]

_SHARD_SET = """status shards { name size sha256 records downloadUrl }
  index { name records downloadUrl } manifest"""
REQUEST = f"""mutation Request($id: ID!) {{ requestShards(deliveryId: $id) {{ __typename
  ... on ShardsRequested {{ shardSet {{ {_SHARD_SET} }} }} ... on Error {{ message }} }} }}"""
DELIVERY = f"""query Delivery($id: ID!) {{ delivery(id: $id) {{ __typename
  ... on Delivery {{ shards {{ {_SHARD_SET} }} }} }} }}"""


async def test_a_buyer_requests_shards_sees_them_built_and_fetches_each_through_one_link(
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
        sessions["gateway"], None, name="Shard Lab", email="shards@lab.test", role=Role.BUYER
    )
    buyer = Actor(subject=str(account.id), roles=frozenset({Role.BUYER}), name="Shard Lab")
    creator = Actor(subject=str(uuid.uuid4()), roles=frozenset({Role.CREATOR}), name="Ines")
    work_id = await listed_work(sessions["catalogue"], creator, title="Harbour at dawn")
    transport = {name: httpx.ASGITransport(app=app) for name, app in apps.items()}
    async with (
        httpx.AsyncClient(transport=transport["catalogue"], base_url="http://c.test") as c_http,
        httpx.AsyncClient(transport=transport["delivery"], base_url="http://d.test") as d_http,
    ):
        [work] = await CatalogueApi(c_http).ok(
            buyer, "GET", "/v1/works", params={"id": str(work_id)}
        )
        version = work["current_version"]
        data = os.urandom(version["size"])
        store: ObjectStore = shared_delivery_app.state.object_store
        await store.put(work_version_key(work_id, uuid.UUID(version["id"])), data)
        # Sold with the sha256 of the bytes stored: a shard holds only the bytes sold.
        line = licence_line(work).model_copy(update={"sha256": hashlib.sha256(data).hexdigest()})
        granted = licence_granted(buyer, [line])
        await DeliveryApi(d_http).grant(granted)
        builder: DeliveryBuilder = shared_delivery_app.state.builder
        await builder.build_pending()
        delivery = await DeliveryApi(d_http).delivery_of(buyer, granted.licence_id)

    urls = {name: f"http://{name}.test" for name in (*apps, "audit")}
    async with gateway(
        migrated_postgres, sessions, monkeypatch, in_process(apps, Counter()), urls
    ) as client:
        seen = await client.execute(DELIVERY, {"id": delivery["id"]}, key=issued.secret)
        assert seen["delivery"]["shards"] is None

        asked = await client.execute(REQUEST, {"id": delivery["id"]}, key=issued.secret)
        assert asked["requestShards"]["shardSet"]["status"] == "BUILDING"
        shard_builder: ShardBuilder = shared_delivery_app.state.shard_builder
        await shard_builder.build_pending()

        seen = await client.execute(DELIVERY, {"id": delivery["id"]}, key=issued.secret)
        shards = seen["delivery"]["shards"]
        assert shards["status"] == "ISSUED"
        assert shards["manifest"]["payloadType"] == "application/vnd.in-toto+json"
        [shard] = shards["shards"]
        assert (shard["records"], shards["index"]["records"]) == (1, 1)

        for url in (shard["downloadUrl"], shards["index"]["downloadUrl"]):
            response = await client.http.get(
                url, headers={"authorization": f"Bearer {issued.secret}"}
            )
            assert response.status_code == 307, response.text
            assert response.headers[LINK_EXPIRES_HEADER]
        stranger = await client.http.get(shard["downloadUrl"])
        assert stranger.status_code == 401

        missing = await client.execute(REQUEST, {"id": str(uuid.uuid4())}, key=issued.secret)
        assert missing["requestShards"]["__typename"] == "NotFound"
