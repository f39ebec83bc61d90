"""A lab buys a bundle of images and texts from the whole marketplace, every component in
its own process, downloads it, and uses it as a dataset: Hugging Face `datasets` and
mlcroissant read it with no Assent code and see each record's licence, and the bundle
verifies offline. It streams the delivery through the licence-enforcing loader for
training, and pandas reads the shards' index through `assent://`; once a licence is
refunded, the loader leaves its records out and says why. The CLI says why when works are
left out and shows money with its currency."""

import asyncio
import io
import json
import os
import uuid
from hashlib import sha256
from pathlib import Path
from typing import Any

import datasets
import mlcroissant
import pandas as pd
import pytest
from PIL import Image

from assent.bundle import CERTIFICATE_FILE, CROISSANT_FILE, TEXTS_FILE
from assent.client import AssentClient
from assent.models import Use
from assent.streaming import LicensedLoader, SkipReason
from tests.e2e.marketplace import (
    COMPLETE,
    cli,
    create_work,
    funded_buyer,
    list_for_sale,
    register,
    run_cli,
    upload_single,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

USES = ["TRAINING", "EVALUATION"]
REQUEST_SHARDS = """mutation($id: ID!) { requestShards(deliveryId: $id) { __typename
  ... on ShardsRequested { shardSet { status } } } }"""
SHARDS = """query($id: ID!) { delivery(id: $id) { ... on Delivery { shards { status } } } }"""
REFUND = """mutation($id: ID!) { refundLicence(licenceId: $id, reason: "chargeback") {
  __typename } }"""


def picture(seed: int) -> bytes:
    """A PNG unlike any other test's, so near-duplicate detection lets it be listed."""
    image = Image.frombytes("RGB", (32, 32), uuid.UUID(int=seed).bytes * 192)
    out = io.BytesIO()
    image.rotate(seed % 360).save(out, format="PNG")
    return out.getvalue()


async def listed(
    gateway: GraphQLClient, creator: str, content: bytes, file_name: str, **work: Any
) -> str:
    file = {"fileName": file_name, "size": len(content), "sha256": sha256(content).hexdigest()}
    created = await create_work(gateway, creator, content, file=file, **work)
    assert created["__typename"] == "WorkCreated", created
    await upload_single(created, content)
    work_id: str = created["work"]["id"]
    completed = await gateway.execute(COMPLETE, {"id": work_id}, key=creator)
    assert completed["completeUpload"]["__typename"] == "UploadCompleted", completed
    await list_for_sale(gateway, creator, work_id, price=1_250, uses=USES)
    return work_id


async def test_a_lab_loads_a_bought_bundle_with_datasets_and_mlcroissant(
    gateway: GraphQLClient, running_stack: RunningStack, tmp_path: Path
) -> None:
    word = f"bundle{uuid.uuid4().hex[:8]}"
    _, creator = await register(gateway, "CREATOR", "Ines Duarte")
    images = [
        await listed(
            gateway,
            creator,
            picture(uuid.uuid4().int),
            f"harbour-{n}.png",
            title=f"Harbour {n} {word}",
        )
        for n in range(2)
    ]
    text = f"Tide tables for {word}: high water at 06:12.\n".encode()
    texts = [
        await listed(
            gateway,
            creator,
            text,
            "tides.txt",
            title=f"Tides {word}",
            mediaType="TEXT",
        )
    ]
    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Kelp Lab", 10_000)
    env = {
        **os.environ,
        "ASSENT_GATEWAY_URL": running_stack.stack.gateway_url,
        "ASSENT_API_KEY": lab,
    }

    typo = str(uuid.uuid4())
    refused = await run_cli(cli("buy", *images, typo, "--use", "training"), env=env)
    assert refused.returncode == 1, refused
    assert f"work {typo} left out" in refused.stderr
    balance = await run_cli(cli("balance"), env=env)
    assert "balance 100.00 EUR" in balance.stdout, balance
    # Search and quote what was found in one step: the three works, and how to buy them.
    quoted = await run_cli(cli("search", word, "--quote", "--use", "training"), env=env)
    assert quoted.returncode == 0, quoted
    assert "buy it with: assent buy --quote" in quoted.stdout, quoted
    # A refusal that would be refused again (too little money) offers no retry.
    _, poor_lab = await funded_buyer(gateway, running_stack.admin_key, "Poor Lab", 1)
    poor = await run_cli(
        cli("buy", *images, "--use", "training"), env={**env, "ASSENT_API_KEY": poor_lab}
    )
    assert poor.returncode != 0, poor
    assert "InsufficientFunds" in poor.stderr, poor
    assert "to retry" not in poor.stderr, poor

    with AssentClient(running_stack.stack.gateway_url, lab) as client:
        purchase = client.buy([*images, *texts], uses=[Use.TRAINING, Use.EVALUATION])
        delivery = client.wait_for_delivery(purchase.id, timeout=20)
        bundle = tmp_path / "bundle"
        assert client.download(delivery.id, bundle, parallel=2).ok

    # Offline: the gateway named is one nobody answers at.
    offline = {**env, "ASSENT_GATEWAY_URL": "http://127.0.0.1:9"}
    verified = await run_cli(cli("verify", str(bundle)), env=offline)
    assert verified.returncode == 0, verified
    assert json.loads((bundle / CERTIFICATE_FILE).read_text())["envelope"]["signatures"]

    loaded = datasets.load_dataset(str(bundle), split="train")
    assert len(loaded) == len(images)
    assert set(loaded["licence_id"]) == {purchase.id}
    assert set(loaded[0]["licence_uses"]) == {"training", "evaluation"}
    assert loaded[0]["image"].size == (32, 32)
    tides = datasets.load_dataset("json", data_files=str(bundle / TEXTS_FILE), split="train")
    assert tides[0]["text"] == text.decode()
    assert tides[0]["creators"] == "Ines Duarte"

    croissant = mlcroissant.Dataset(jsonld=bundle / CROISSANT_FILE)
    records = list(croissant.records("records"))
    assert {record["records/work_id"].decode() for record in records} == {*images, *texts}
    assert {record["records/licence_id"].decode() for record in records} == {purchase.id}

    # Streamed for training, with no download: every record, each verified on the way.
    options = {"gateway_url": running_stack.stack.gateway_url, "api_key": lab}
    loader = LicensedLoader(
        [delivery.id], "training", gateway_url=options["gateway_url"], api_key=lab
    )
    streamed = list(loader)
    assert {record.work_id for record in streamed} == {*images, *texts}
    assert next(r.data for r in streamed if r.work_id == texts[0]) == text
    assert loader.report.skipped == [], loader.report.summary()

    # pandas reads the shards' Parquet index through the same URLs.
    requested = await gateway.execute(REQUEST_SHARDS, {"id": delivery.id}, key=lab)
    assert requested["requestShards"]["__typename"] == "ShardsRequested", requested
    for _ in range(150):
        shown = await gateway.execute(SHARDS, {"id": delivery.id}, key=lab)
        if shown["delivery"]["shards"]["status"] == "ISSUED":
            break
        await asyncio.sleep(0.2)
    index = pd.read_parquet(f"assent://{delivery.id}/shards/index.parquet", storage_options=options)
    assert set(index["work_id"]) == {*images, *texts}
    assert set(index["licence_id"]) == {purchase.id}

    # A second licence, then the first refunded: the loader keeps only the second's record.
    with AssentClient(running_stack.stack.gateway_url, lab) as client:
        again = client.buy([images[0]], uses=[Use.TRAINING])
        again_delivery = client.wait_for_delivery(again.id, timeout=20)
    refunded = await gateway.execute(REFUND, {"id": purchase.id}, key=running_stack.admin_key)
    assert refunded["refundLicence"]["__typename"] == "LicenceRefunded", refunded
    after = LicensedLoader(
        [delivery.id, again_delivery.id],
        "training",
        gateway_url=options["gateway_url"],
        api_key=lab,
    )
    kept = list(after)
    assert [(record.licence_id, record.work_id) for record in kept] == [(again.id, images[0])]
    assert after.report.skipped_by_reason() == {SkipReason.LICENCE_REFUNDED: 3}
    assert all(f"licence {purchase.id} was refunded" in s.detail for s in after.report.skipped)
    assert after.report.summary() == "1 record for training; skipped 3 (3 licence_refunded)"
