"""WebDataset shards: asked for by the buyer, cut at the configured size, each shard's
sha256 in a signed shard manifest bound to the delivery's manifest, a Parquet index
whose offsets find each record's bytes, and one link per shard after the entitlement
check."""

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
import webdataset
from fastapi import FastAPI

from assent.protocol import verify_envelope
from services.contracts.delivery import IN_TOTO_PAYLOAD_TYPE
from services.contracts.events import Topic
from services.contracts.signing import Envelope
from services.delivery.builder import DeliveryBuilder
from services.delivery.shards import ShardBuilder
from tests.services.catalogue.helpers import Actor, Api
from tests.services.delivery.helpers import DeliveryApi, refunded
from tests.services.delivery.test_downloads import bought

SHARD_BYTES = 64 * 1024


@pytest.fixture
def shard_builder(app: FastAPI) -> ShardBuilder:
    built: ShardBuilder = app.state.shard_builder
    return built


@pytest.fixture
def small_shards(app: FastAPI) -> Any:
    """Shards of 64 KiB, so a few files make several."""
    settings = app.state.settings
    original = settings.shard_bytes
    settings.shard_bytes = SHARD_BYTES
    yield
    settings.shard_bytes = original


async def _fetch(url: str) -> bytes:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
        response.raise_for_status()
        return response.content


async def _sharded(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    shard_builder: ShardBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    contents: list[bytes],
) -> tuple[Any, dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    granted, read, entries = await bought(delivery, builder, catalogue, ines, lab, contents)
    requested = await delivery.ok(lab, "POST", f"/v1/deliveries/{read['id']}/shards")
    assert requested["status"] == "building"
    await shard_builder.build_pending()
    shards = await delivery.ok(lab, "GET", f"/v1/deliveries/{read['id']}/shards")
    return granted, read, entries, shards


@pytest.mark.usefixtures("small_shards")
async def test_shards_index_and_signed_manifest_describe_the_licensed_bytes(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    shard_builder: ShardBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    tmp_path: Path,
) -> None:
    contents = [os.urandom(30_000 + 7 * index) for index in range(5)]
    granted, read, entries, shards = await _sharded(
        delivery, builder, shard_builder, catalogue, ines, lab, contents
    )

    assert shards["status"] == "issued"
    assert len(shards["shards"]) >= 2, "64 KiB shards hold two 30 KB files at most"
    assert sum(shard["records"] for shard in shards["shards"]) == 5
    # The shard manifest verifies with the published keys and names each shard's sha256,
    # the index's, and the delivery manifest it belongs to.
    payload, _ = verify_envelope(
        Envelope.model_validate(shards["envelope"]),
        await delivery.keys(lab),
        payload_type=IN_TOTO_PAYLOAD_TYPE,
    )
    statement = json.loads(payload)
    assert statement["predicate"]["header"]["manifest_sha256"] == read["manifest_sha256"]
    signed = {subject["name"]: subject["digest"]["sha256"] for subject in statement["subject"]}
    listed = [*shards["shards"], shards["index"]]
    assert signed == {item["name"]: item["sha256"] for item in listed}

    fetched: dict[str, bytes] = {}
    for item in listed:
        link = await delivery.ok(
            lab, "POST", f"/v1/deliveries/{read['id']}/shards/{item['name']}/link"
        )
        fetched[item["name"]] = await _fetch(link["url"])
        assert hashlib.sha256(fetched[item["name"]]).hexdigest() == signed[item["name"]]

    index = pq.read_table(io.BytesIO(fetched["index.parquet"])).to_pylist()
    by_sha = {hashlib.sha256(data).hexdigest(): data for data in contents}
    assert [row["key"] for row in index] == [entry["fingerprint"] for entry in entries]
    for row in index:
        shard = fetched[row["shard"]]
        assert shard[row["offset"] : row["offset"] + row["size"]] == by_sha[row["sha256"]]
        assert row["licence_id"] == str(granted.licence_id)
        assert row["uses"] == ["training"]

    # WebDataset reads the shards as written, each record its bytes and its licence.
    samples = []
    for name, data in fetched.items():
        if name.endswith(".tar"):
            path = tmp_path / name
            path.write_bytes(data)
            samples.extend(webdataset.WebDataset(str(path), shardshuffle=False))
    assert [sample["__key__"] for sample in samples] == [row["key"] for row in index]
    for sample in samples:
        assert by_sha[hashlib.sha256(sample["bin"]).hexdigest()]
        assert json.loads(sample["assent.json"])["licence_id"] == str(granted.licence_id)


@pytest.mark.usefixtures("small_shards")
async def test_asking_twice_returns_the_same_set_and_a_tar_reader_reads_every_shard(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    shard_builder: ShardBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
) -> None:
    _, read, _, shards = await _sharded(
        delivery, builder, shard_builder, catalogue, ines, lab, [b"a" * 100, b"b" * 200]
    )
    again = await delivery.ok(lab, "POST", f"/v1/deliveries/{read['id']}/shards")
    assert again == shards
    assert await shard_builder.build_pending() == []
    (only,) = shards["shards"]
    link = await delivery.ok(lab, "POST", f"/v1/deliveries/{read['id']}/shards/{only['name']}/link")
    with tarfile.open(fileobj=io.BytesIO(await _fetch(link["url"]))) as tar:
        names = tar.getnames()
    assert len(names) == 4
    assert sorted(name.split(".", 1)[1] for name in names) == [
        "assent.json",
        "assent.json",
        "bin",
        "bin",
    ]


async def test_only_the_buyer_gets_shards_and_a_refund_stops_their_links(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    shard_builder: ShardBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    rival: Actor,
    admin: Actor,
) -> None:
    granted, read, _, shards = await _sharded(
        delivery, builder, shard_builder, catalogue, ines, lab, [b"x" * 1000]
    )
    path = f"/v1/deliveries/{read['id']}/shards"
    assert (await delivery.call(rival, "POST", path)).status_code == 404
    assert (await delivery.call(rival, "GET", path)).status_code == 404
    assert (await delivery.call(admin, "POST", path)).status_code == 403
    shard_link = f"{path}/{shards['shards'][0]['name']}/link"
    assert (await delivery.call(rival, "POST", shard_link)).status_code == 404
    assert (await delivery.call(lab, "POST", f"{path}/shard-000099.tar/link")).status_code == 404
    assert (await delivery.call(lab, "POST", f"{path}/../link")).status_code == 404

    await delivery.event(Topic.LICENCE_REFUNDED, refunded(granted))

    refused = await delivery.call(lab, "POST", shard_link)
    assert refused.status_code == 410
    assert refused.json()["error"] == "LicenceRevoked"
    refused = await delivery.call(lab, "POST", f"{path}/index.parquet/link")
    assert refused.status_code == 410
