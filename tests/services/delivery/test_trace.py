"""Tracing a leaked manifest back to the licence it was issued under."""

import json
import os
import random
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.licensing import LicenceGranted
from services.contracts.roles import Role
from services.delivery.app import create_app
from services.delivery.builder import DeliveryBuilder
from services.kit.client import HttpxTransport
from storage import ObjectStore, StorageSettings
from storage.keys import work_version_key
from tests.services.catalogue.helpers import Actor, Api, create_work, list_work
from tests.services.delivery.conftest import catalogue_client, delivery_settings
from tests.services.delivery.helpers import DeliveryApi, licence_granted, licence_line

WORKS = 200
LICENCES = 50


@pytest.fixture(scope="module")
async def shared_delivery_app(
    migrated_postgres: str,
    shared_catalogue_app: FastAPI,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[FastAPI]:
    """The delivery app of the other tests, on a local-directory object store instead of
    S3. Building 50 deliveries of 200 works checks each file with a HEAD and reads each
    image for its provenance copy: 20,000 calls to the S3 server, about 80 s of the
    test's 110, that tell nothing about tracing. The builder, its checks and its copies
    run as they do on S3; the store (which passes the same contract tests) answers from
    disk."""
    storage = StorageSettings(
        backend="local",
        local_root=tmp_path_factory.mktemp("trace-objects"),
        signing_secret=SecretStr(secrets.token_urlsafe(32)),
    )
    app = create_app(delivery_settings(migrated_postgres), storage)
    await app.state.object_store.ensure_bucket()
    await app.state.http.aclose()
    app.state.http = HttpxTransport(catalogue_client(shared_catalogue_app))
    yield app
    await app.state.object_store.close()
    await app.state.http.aclose()
    await app.state.engine.dispose()


async def catalogue_works(
    catalogue: Api,
    catalogue_session: AsyncSession,
    object_store: ObjectStore,
    creator: Actor,
    reader: Actor,
) -> list[dict[str, Any]]:
    """200 listed works, made straight in the catalogue's tables and the object store (no
    uploads), read back through its batch API as licensing would sell them."""
    ids = []
    for index in range(WORKS):
        work = await create_work(catalogue_session, owner=creator, title=f"Sketch {index}")
        await list_work(catalogue_session, work, owner=creator)
        ids.append(str(work.id))
    works: list[dict[str, Any]] = []
    for start in range(0, WORKS, 100):
        batch = {"id": ids[start : start + 100]}
        works.extend(await catalogue.ok(reader, "GET", "/v1/works", params=batch))
    for listed in works:
        version = listed["current_version"]
        key = work_version_key(uuid.UUID(listed["id"]), uuid.UUID(version["id"]))
        await object_store.put(key, bytes(version["size"]))
    return works


async def test_a_five_percent_sample_stripped_and_shuffled_names_its_licence_among_fifty(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    catalogue_session: AsyncSession,
    object_store: ObjectStore,
    ines: Actor,
    admin: Actor,
    auditor: Actor,
) -> None:
    works = await catalogue_works(catalogue, catalogue_session, object_store, ines, admin)
    lines = [licence_line(work) for work in works]
    buyers = [
        Actor(str(uuid.uuid4()), frozenset({Role.BUYER}), f"Lab {index:02d}")
        for index in range(LICENCES)
    ]
    grants: list[LicenceGranted] = []
    for buyer in buyers:
        grants.append(licence_granted(buyer, lines))
        await delivery.grant(grants[-1])
    assert len(await builder.build_pending()) == LICENCES

    rng = random.Random(7)
    leaker, granted = buyers[17], grants[17]
    read = await delivery.delivery_of(leaker, granted.licence_id)
    envelope = await delivery.envelope(leaker, read["id"])
    entries = (await delivery.statement(leaker, read["id"]))["predicate"]["entries"]
    assert len(entries) == WORKS

    # 5% of the entries, shuffled, without the signature, the header or the subjects.
    sample = rng.sample(entries, WORKS // 20)
    leaked = json.dumps({"files": sample}, indent=2)
    result = await delivery.trace(auditor, leaked)
    assert result["licence_id"] == str(granted.licence_id)
    assert result["delivery_id"] == read["id"]
    assert (result["buyer_id"], result["buyer_name"]) == (str(leaker.id), "Lab 17")
    assert result["confidence"] >= 0.9
    assert (result["entries_examined"], result["entries_matched"]) == (10, 10)
    assert [c["licence_id"] for c in result["candidates"]] == [str(granted.licence_id)]
    assert result["order_agreement"] is not None
    assert any("Lab 17" in line for line in result["evidence"])

    # Other shapes of the same leak: the download paths alone, re-cased fingerprints in
    # a table, and the envelope as text cut off before its end.
    paths = "\n".join(entry["path"] for entry in sample)
    table = "\n".join(f"{e['file_name']};{e['fingerprint'].upper()}" for e in sample)
    cut = envelope.model_dump_json()[: len(envelope.model_dump_json()) * 2 // 5]
    for text in (paths, table, cut):
        assert (await delivery.trace(auditor, text))["licence_id"] == str(granted.licence_id)
    in_order = await delivery.trace(auditor, cut)
    assert in_order["order_agreement"] == 1.0
    assert in_order["entries_matched"] > 50

    # A manifest Assent never issued (the same works, made-up fingerprints) names nobody.
    forged = [entry | {"fingerprint": secrets.token_hex(16)} for entry in entries]
    forged = [
        entry | {"path": f"/downloads/{read['id']}/{entry['fingerprint']}"} for entry in forged
    ]
    nobody = await delivery.trace(auditor, json.dumps({"predicate": {"entries": forged}}))
    assert nobody["licence_id"] is None
    assert nobody["confidence"] == 0
    assert (nobody["entries_examined"], nobody["entries_matched"]) == (WORKS, 0)
    assert nobody["candidates"] == []

    # Entries pooled from two buyers' manifests point at both, and name neither.
    other = grants[3]
    other_read = await delivery.delivery_of(buyers[3], other.licence_id)
    other_entries = (await delivery.files(buyers[3], other_read["id"]))["items"]
    pooled = sample[:5] + other_entries[:5]
    mixed = await delivery.trace(auditor, json.dumps(pooled))
    assert mixed["licence_id"] is None
    assert mixed["confidence"] == 0.5
    assert {(c["licence_id"], c["matched_entries"]) for c in mixed["candidates"]} == {
        (str(granted.licence_id), 5),
        (str(other.licence_id), 5),
    }


async def test_garbage_names_nobody_and_only_auditors_and_admins_may_trace(
    delivery: DeliveryApi, auditor: Actor, admin: Actor, lab: Actor
) -> None:
    junk = os.urandom(5_000).decode("latin-1")
    for text in (junk, "{}", "not a manifest at all", "A" * 10_000, "deadbeef" * 4 + "x"):
        result = await delivery.trace(auditor, text)
        assert result["licence_id"] is None
        assert result["confidence"] == 0
        assert result["evidence"]
    assert (await delivery.trace(admin, "{}"))["licence_id"] is None
    assert await delivery.refused(lab, "POST", "/v1/trace", json={"manifest": "{}"}) == (
        403,
        "Forbidden",
    )
    assert await delivery.refused(auditor, "POST", "/v1/trace", json={"manifest": ""}) == (
        422,
        "ValidationFailed",
    )
