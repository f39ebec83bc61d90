"""A lab buys, receives and downloads a bundle; money and licences stay exact; every
component in its own process on PostgreSQL and a real S3 endpoint."""

import asyncio
import hashlib
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from assent.protocol import verify_envelope
from services.contracts.delivery import IN_TOTO_PAYLOAD_TYPE
from services.contracts.signing import WELL_KNOWN_KEYS_PATH, Envelope, PublishedKeys
from tests.e2e.marketplace import (
    LICENCES,
    PURCHASE,
    WITHDRAW,
    assert_ledger_sound,
    buy,
    delivered,
    eur_balance,
    funded_buyer,
    listed_work,
    quote_for,
    register,
    run_cli,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

EARNINGS = """{ earnings { __typename ... on Earnings {
  lines { licenceId workId buyerName amount { amountMinor } uses }
  owed { amountMinor currency } } } }"""
REFUND = """mutation($id: ID!) { refundLicence(licenceId: $id, reason: "invoice disputed") {
  __typename ... on LicenceRefunded { licence { status refunded { amountMinor } } }
  ... on Conflict { code } } }"""
FILES = """query($id: ID!) { delivery(id: $id) { __typename ... on Delivery {
  files { items { workId sha256 downloadUrl } } } } }"""
LICENCE_FILES = """query($id: ID!) { licence(id: $id) { ... on Licence {
  delivery { status files { items { workId } } } } } }"""
CERTIFICATE = """query($id: ID!) { licence(id: $id) { ... on Licence { certificate } } }"""


async def test_a_lab_buys_a_bundle_and_downloads_every_file_verified(
    gateway: GraphQLClient, running_stack: RunningStack, tmp_path: Path
) -> None:
    admin = running_stack.admin_key
    _, creator = await register(gateway, "CREATOR", "Ada Lindqvist")
    works = [
        await listed_work(gateway, creator, price=price, title=f"Fjord study {price}")
        for price in (1_000, 2_499, 333)
    ]
    _, lab = await funded_buyer(gateway, admin, "Northwind Lab", 10_000)

    quote = await quote_for(gateway, lab, works)
    assert quote["total"] == {"amountMinor": 3_832, "currency": "EUR"}
    assert quote["excluded"] == []
    licence = await buy(gateway, lab, quote["id"])
    assert await eur_balance(gateway, lab) == 10_000 - 3_832
    # Asked at once, while the delivery may not exist yet or still be building: no
    # delivery, or its files, or none yet; never an error (`execute` fails on one).
    early = (await gateway.execute(LICENCE_FILES, {"id": licence["id"]}, key=lab))["licence"]
    if early["delivery"] is not None:
        files = early["delivery"]["files"]["items"]
        assert len(files) == (3 if early["delivery"]["status"] == "ISSUED" else 0)

    licence = await delivered(gateway, lab, licence["id"])
    delivery = licence["delivery"]
    assert delivery["status"] == "ISSUED"
    assert delivery["entryCount"] == 3

    target = tmp_path / "bundle"
    command = [
        sys.executable,
        "-m",
        "assent.cli",
        "download",
        delivery["id"],
        "--to",
        str(target),
        "--gateway",
        running_stack.stack.gateway_url,
        "--quiet",
    ]
    env = {**os.environ, "ASSENT_API_KEY": lab}
    finished = await run_cli(command, env=env)
    assert finished.returncode == 0, finished.stdout + finished.stderr

    # Every file on disk matches the sha256 the signed manifest lists for it, and the
    # signature verifies with nothing but the key the gateway publishes.
    async with httpx.AsyncClient() as http:
        published = PublishedKeys.model_validate_json(
            (await http.get(running_stack.stack.gateway_url + WELL_KNOWN_KEYS_PATH)).content
        )
    envelope = Envelope.model_validate_json((target / "manifest.dsse.json").read_bytes())
    payload, _ = verify_envelope(envelope, published.keys, payload_type=IN_TOTO_PAYLOAD_TYPE)
    statement = json.loads(payload)
    subjects = {s["digest"]["sha256"] for s in statement["subject"]}
    # The works' files land in DIR/<work id>/; the bundle's own documents sit beside them.
    on_disk = {
        hashlib.sha256(path.read_bytes()).hexdigest()
        for path in target.glob("*/*")
        if path.is_file() and _is_work_id(path.parent.name)
    }
    assert on_disk == subjects
    assert len(subjects) == 3

    # The creator sees the sale, net of the platform fee, credited to the buyer by name.
    earnings = (await gateway.execute(EARNINGS, key=creator))["earnings"]
    assert {line["workId"] for line in earnings["lines"]} == set(works)
    assert {line["buyerName"] for line in earnings["lines"]} == {"Northwind Lab"}
    net = sum(line["amount"]["amountMinor"] for line in earnings["lines"])
    fee = quote["platformFee"]["amountMinor"]
    assert net == 3_832 - fee
    assert earnings["owed"] == [{"amountMinor": net, "currency": "EUR"}]

    # The certificate verifies offline with the published keys too.
    certificate = (await gateway.execute(CERTIFICATE, {"id": licence["id"]}, key=lab))["licence"]
    path = tmp_path / "certificate.json"
    path.write_text(json.dumps(certificate["certificate"]))
    keys = tmp_path / "keys.json"
    keys.write_text(published.model_dump_json())
    verified = await run_cli(
        [sys.executable, "-m", "assent.cli", "verify", str(path), "--keys", str(keys)]
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    await assert_ledger_sound(gateway, admin)


async def test_fifty_concurrent_purchases_with_one_key_make_one_licence_and_one_charge(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    admin = running_stack.admin_key
    _, creator = await register(gateway, "CREATOR", "Tomas Reyes")
    work = await listed_work(gateway, creator, price=1_999, title="Night market sounds")
    _, lab = await funded_buyer(gateway, admin, "Racing Lab", 100_000)
    quote = await quote_for(gateway, lab, [work])
    key = f"order-{uuid.uuid4()}"

    async def attempt() -> dict[str, Any]:
        response = await gateway.post(PURCHASE, {"quote": quote["id"], "key": key}, key=lab)
        assert response.status_code == 200
        result: dict[str, Any] = response.json()["data"]["purchase"]
        return result

    results = await asyncio.gather(*(attempt() for _ in range(50)))
    assert {r["__typename"] for r in results} == {"PurchaseSucceeded"}, results
    assert len({r["licence"]["id"] for r in results}) == 1
    assert sum(not r["replayed"] for r in results) == 1
    listed = (await gateway.execute(LICENCES, key=lab))["licences"]["items"]
    assert [item["id"] for item in listed] == [results[0]["licence"]["id"]]
    assert await eur_balance(gateway, lab) == 100_000 - 1_999

    # The same key on another quote is refused, and charges nothing.
    other = await quote_for(gateway, lab, [work])
    reused = await gateway.execute(PURCHASE, {"quote": other["id"], "key": key}, key=lab)
    assert reused["purchase"]["code"] == "IdempotencyKeyReused"
    assert await eur_balance(gateway, lab) == 100_000 - 1_999
    await assert_ledger_sound(gateway, admin)


async def test_a_refund_restores_the_balance_and_blocks_downloads(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    admin = running_stack.admin_key
    _, creator = await register(gateway, "CREATOR", "Lena Brandt")
    work = await listed_work(gateway, creator, price=4_200, title="Delta in winter")
    _, lab = await funded_buyer(gateway, admin, "Refund Lab", 5_000)
    licence = await buy(gateway, lab, (await quote_for(gateway, lab, [work]))["id"])
    licence = await delivered(gateway, lab, licence["id"])
    files = (await gateway.execute(FILES, {"id": licence["delivery"]["id"]}, key=lab))["delivery"]
    url = files["files"]["items"][0]["downloadUrl"]
    auth = {"authorization": f"Bearer {lab}"}

    async with httpx.AsyncClient() as http:
        before = await http.get(url, headers=auth)
        assert before.status_code == 307
        # A buyer cannot refund their own licence.
        refused = await gateway.execute(REFUND, {"id": licence["id"]}, key=lab)
        assert refused["refundLicence"]["__typename"] == "Forbidden"

        refunded = await gateway.execute(REFUND, {"id": licence["id"]}, key=admin)
        assert refunded["refundLicence"]["licence"] == {
            "status": "REFUNDED",
            "refunded": {"amountMinor": 4_200},
        }
        assert await eur_balance(gateway, lab) == 5_000
        # The refund reaches delivery through the outbox; from then on the link is dead.
        for _ in range(100):
            after = await http.get(url, headers=auth)
            if after.status_code != 307:
                break
            await asyncio.sleep(0.1)
        assert after.status_code == 410, after.text
        assert after.json()["error"] == "LicenceRevoked"
    again = await gateway.execute(REFUND, {"id": licence["id"]}, key=admin)
    assert again["refundLicence"]["code"] == "LicenceRefunded"
    await assert_ledger_sound(gateway, admin)


async def test_a_work_withdrawn_after_the_quote_is_either_sold_whole_or_left_out_uncharged(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    admin = running_stack.admin_key
    _, creator = await register(gateway, "CREATOR", "Ines Moreau")
    kept = await listed_work(gateway, creator, price=1_500, title="Salt flats")
    withdrawn = await listed_work(gateway, creator, price=2_500, title="Quarry at noon")
    _, lab = await funded_buyer(gateway, admin, "Careful Lab", 10_000)
    quote = await quote_for(gateway, lab, [kept, withdrawn])

    assert (await gateway.execute(WITHDRAW, {"id": withdrawn}, key=creator))["withdrawWork"][
        "__typename"
    ] == "WorkWithdrawn"
    # Licensing learns of the withdrawal through the outbox, so the purchase commits either
    # before its sale scope (the work is sold and delivered on its terms) or after it (the
    # work is left out and not charged). Either way the answer and the money agree.
    bought = await buy(gateway, lab, quote["id"])
    licence = await delivered(gateway, lab, bought["id"])
    statuses = {line["workId"]: line["status"] for line in licence["lines"]}
    assert licence["delivery"]["excluded"] == []
    if statuses[withdrawn] == "ACTIVE":
        assert bought["total"] == {"amountMinor": 4_000}
        assert licence["delivery"]["entryCount"] == 2
        assert await eur_balance(gateway, lab) == 10_000 - 4_000
    else:
        assert statuses == {kept: "ACTIVE", withdrawn: "EXCLUDED"}
        assert bought["total"] == {"amountMinor": 1_500}
        assert licence["delivery"]["entryCount"] == 1
        assert await eur_balance(gateway, lab) == 10_000 - 1_500
    await assert_ledger_sound(gateway, admin)


def _is_work_id(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True
