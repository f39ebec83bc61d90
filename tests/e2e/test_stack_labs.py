"""A lab wired to Assent, every component in its own process: it registers a webhook
endpoint (a real HTTP server here) and buys; a signed `delivery.issued` arrives. A licence
is refunded: its signed status list flips, the loader skips its records and
`licence.refunded` arrives. The lab records a training run, which joins the work's chain
and verifies offline; a second model beyond the work's cap is refused; and the EU AI
Act's training-content summary is generated."""

import asyncio
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks import Webhook

from assent.client import AssentClient
from assent.errors import ModelsCapReached
from assent.protocol import verify_training_receipt
from assent.streaming import LicensedLoader, SkipReason
from assent.webhooks import WebhookVerifier
from tests.e2e.marketplace import (
    COMPLETE,
    CONSENT,
    OFFER,
    TRAINING,
    buy,
    chain_of,
    cli,
    consent_input,
    create_work,
    delivered,
    funded_buyer,
    proven_chain,
    quote_for,
    register,
    run_cli,
    upload_single,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack
from tests.fixtures.webhook_receiver import WebhookReceiver, webhook_receiver

pytestmark = pytest.mark.stack

ENDPOINTS = """{ webhookEndpoints { ... on WebhookEndpointList { items { id url
  messages { eventType status attempts { statusCode } } } } } }"""
REFUND = """mutation($id: ID!) { refundLicence(licenceId: $id, reason: "chargeback") {
  __typename } }"""


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as running:
        yield running


async def _capped_work(gateway: GraphQLClient, creator: str, title: str) -> str:
    """A listed image whose terms allow it in one model only."""
    content = os.urandom(30_000)
    created = await create_work(gateway, creator, content, title=title)
    await upload_single(created, content)
    work_id: str = created["work"]["id"]
    await gateway.execute(COMPLETE, {"id": work_id}, key=creator)
    await gateway.execute(CONSENT, {"id": work_id, "input": consent_input(TRAINING)}, key=creator)
    offer = {
        "priceMinor": 900,
        "currency": "EUR",
        "terms": {
            "uses": TRAINING,
            "commercialUse": True,
            "attributionRequired": True,
            "durationDays": 365,
            "maxModels": 1,
        },
    }
    offered = await gateway.execute(OFFER, {"id": work_id, "input": offer}, key=creator)
    assert offered["setOffer"]["__typename"] == "OfferSet", offered
    return work_id


async def _arrived(
    receiver: WebhookReceiver, verifier: WebhookVerifier, kind: str
) -> dict[str, Any]:
    """The data of the first `kind` message, once the delivery service has sent it."""
    for _ in range(150):
        for request in receiver.received:
            event = verifier.verify(request.body, request.headers)
            if event.type == kind:
                return event.data
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {kind} webhook arrived: {receiver.received}")


async def test_a_lab_hears_of_its_licences_records_training_and_summarises_it(
    running_stack: RunningStack, gateway: GraphQLClient, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    gateway_url = running_stack.stack.gateway_url
    _, creator = await register(gateway, "CREATOR", "Noor Haddad")
    kept = await _capped_work(gateway, creator, "Kept lighthouse")
    returned = await _capped_work(gateway, creator, "Returned lighthouse")
    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Northwind Lab", 10_000)
    client = AssentClient(gateway_url, lab)

    # 1. The lab registers an endpoint; the secret is shown once.
    created = client.webhooks.create(receiver.at("/assent"), description="training cluster")
    verifier = WebhookVerifier(created.secret)

    # 2. It buys: a signed delivery.issued arrives and verifies with the reference library.
    bought = []
    for work_id in (kept, returned):
        quote = await quote_for(gateway, lab, [work_id])
        bought.append(await delivered(gateway, lab, (await buy(gateway, lab, quote["id"]))["id"]))
    used, refunded = bought
    issued = await _arrived(receiver, verifier, "delivery.issued")
    assert issued["licence_id"] in {used["id"], refunded["id"]}
    first = receiver.received[0]
    assert Webhook(created.secret).verify(first.body, first.headers)["type"] == "delivery.issued"
    # What was sent, with each attempt, is the lab's to read (once the sender has
    # recorded the answer it got).
    for _ in range(50):
        [endpoint] = (await gateway.execute(ENDPOINTS, key=lab))["webhookEndpoints"]["items"]
        sent = [m for m in endpoint["messages"] if m["eventType"] == "DELIVERY_ISSUED"]
        if len(sent) == 2 and all(m["status"] == "DELIVERED" for m in sent):
            break
        await asyncio.sleep(0.2)
    assert endpoint["id"] == str(created.endpoint.id)
    assert [m["status"] for m in sent] == ["DELIVERED", "DELIVERED"], sent
    assert all(m["attempts"][-1]["statusCode"] == 200 for m in sent), sent

    # 3. A licence is refunded: its status list flips, the loader skips its records, and
    # licence.refunded arrives.
    done = await gateway.execute(REFUND, {"id": refunded["id"]}, key=running_stack.admin_key)
    assert done["refundLicence"]["__typename"] == "LicenceRefunded", done
    assert (await _arrived(receiver, verifier, "licence.refunded"))["licence_id"] == refunded["id"]
    delivery_id = refunded["delivery"]["id"]
    assert client.status_list(delivery_id).revoked_indices() == [0]
    assert client.status_list(used["delivery"]["id"]).revoked_indices() == []
    loader = LicensedLoader(
        [used["delivery"]["id"], delivery_id], "training", gateway_url=gateway_url, api_key=lab
    )
    records = list(loader)
    assert [record.work_id for record in records] == [kept]
    assert loader.report.skipped_by_reason() == {SkipReason.LICENCE_REFUNDED: 1}

    # 4. The lab records a training run: it joins the work's chain and verifies offline.
    key = Ed25519PrivateKey.generate()
    client.training.register_key(key)
    now = datetime.now(UTC)
    receipt = client.training.record(
        key,
        model_name="Northwind-7B",
        model_version="1.0",
        declared_use="training",
        started_at=now - timedelta(hours=2),
        ended_at=now - timedelta(hours=1),
        records={used["id"]: [kept]},
    )
    verify_training_receipt(receipt, client.published_keys())
    await proven_chain(gateway, lab, {"TRAINING"}, work=kept)
    env = {**os.environ, "ASSENT_API_KEY": lab, "ASSENT_GATEWAY_URL": gateway_url}
    exported = await run_cli(cli("audit", "export", "--work", kept, "--to", str(tmp_path)), env=env)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    export = tmp_path / f"chain-work-{kept}.json"
    offline = {"PATH": os.environ["PATH"], "ASSENT_GATEWAY_URL": "http://127.0.0.1:9"}
    verified = await run_cli(cli("verify", str(export)), env=offline)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    topics = [entry["topic"] for entry in json.loads(export.read_text())["entries"]]
    assert "training.recorded" in topics, topics

    # 5. A second model on the same work is beyond its cap: refused, and logged.
    with pytest.raises(ModelsCapReached):
        client.training.record(
            key,
            model_name="Other-3B",
            model_version="1.0",
            declared_use="training",
            started_at=now - timedelta(hours=2),
            ended_at=now - timedelta(hours=1),
            records={used["id"]: [kept]},
        )
    for _ in range(100):
        chain = await chain_of(gateway, running_stack.admin_key, work=kept)
        if sum(entry["step"] == "TRAINING" for entry in chain["entries"]) == 2:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"the refusal never reached the work's chain: {chain}")

    # 6. The Article 53 summary of the model's training content.
    summarised = await run_cli(
        cli(
            "summary", "--model", "Northwind-7B",
            "--json", str(tmp_path / "summary.json"), "--html", str(tmp_path / "summary.html"),
        ),
        env=env,
    )  # fmt: skip
    assert summarised.returncode == 0, summarised.stdout + summarised.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["general"]["model_names"] == ["Northwind-7B 1.0"]
    assert summary["general"]["total_records"] == 1
    assert summary["sources"]["licensed"]["licences"] == 1
    assert summary["sources"]["crawled"]["status"] == "to be completed by the provider"
    assert "Noor Haddad" not in (tmp_path / "summary.html").read_text()
    client.close()
