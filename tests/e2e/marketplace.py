"""A marketplace user's steps through the gateway, shared by the whole-stack tests."""

import asyncio
import hashlib
import os
import subprocess
import sys
import uuid
from typing import Any

import httpx

from tests.fixtures.graphql import GraphQLClient

MiB = 1024 * 1024

REGISTER = """mutation($input: RegisterInput!) { register(input: $input) {
  ... on Registered { account { id } apiKey { secret } } } }"""
CREATE_WORK = """mutation($input: CreateWorkInput!) { createWork(input: $input) {
  __typename
  ... on WorkCreated { work { id status listed } upload {
      method partSize partCount put { url headers { name value } } uploadedParts { partNumber } } }
  ... on ValidationFailed { fields { field code } } } }"""
UPLOAD_TARGET = """query($id: ID!) { uploadTarget(workId: $id) { __typename
  ... on UploadTarget { method partSize partCount uploadedParts { partNumber } } } }"""
PRESIGN_PARTS = """mutation($id: ID!, $parts: [PartInput!]!) { presignUploadParts(workId: $id, parts: $parts) {
  __typename ... on PartsPresigned { parts { partNumber url headers { name value } } } } }"""
COMPLETE = """mutation($id: ID!) { completeUpload(workId: $id) { __typename
  ... on UploadCompleted { work { status currentVersion { sha256 size } } }
  ... on UploadRejected { reason work { status } } } }"""
CONSENT = """mutation($id: ID!, $input: ConsentInput!) { giveConsent(workId: $id, input: $input) {
  __typename ... on ConsentRecorded { consent { kind uses } } } }"""
OFFER = """mutation($id: ID!, $input: OfferInput!) { setOffer(workId: $id, input: $input) {
  __typename ... on OfferSet { offer { termsId price { amountMinor currency } } }
  ... on ValidationFailed { fields { field code } } ... on ConsentRequired { message } } }"""
WITHDRAW = """mutation($id: ID!) { withdrawWork(workId: $id) { __typename } }"""
SEARCH = """query($filter: WorkFilter, $sort: SearchSort, $first: Int!, $after: String) {
  works(filter: $filter, sort: $sort, first: $first, after: $after) { __typename
    ... on WorkConnection { nextCursor items { id title listed owner { name }
        offer { price { amountMinor } } shares { creator { id } basisPoints } } } } }"""
WORK = """query($id: ID!) { work(id: $id) { __typename ... on Work { id title listed } } }"""
TOP_UP = """mutation($buyer: ID!, $amount: BigInt!, $ref: String!) {
  topUp(buyerId: $buyer, amountMinor: $amount, currency: "EUR", reference: $ref) {
    __typename ... on MoneyRecorded { transaction { id } } } }"""
CREATE_BUNDLE = """mutation($input: CreateBundleInput!) { createBundle(input: $input) {
  __typename ... on BundleCreated { bundle { id workIds } }
  ... on ValidationFailed { fields { field code } } } }"""
QUOTE = """mutation($id: ID!) { quoteBundle(bundleId: $id) { __typename
  ... on QuoteIssued { quote { id status total { amountMinor currency }
      platformFee { amountMinor } lines { workId price { amountMinor } }
      excluded { workId reason } } } } }"""
PURCHASE = """mutation($quote: ID!, $key: String!) {
  purchase(quoteId: $quote, idempotencyKey: $key) { __typename
    ... on PurchaseSucceeded { replayed licence { id status total { amountMinor } } }
    ... on Error { message } ... on Conflict { code } } }"""
LICENCE = """query($id: ID!) { licence(id: $id) { __typename ... on Licence {
  id status refunded { amountMinor } lines { workId status excludedReason }
  delivery { id status entryCount excluded { workId reason } } } } }"""
TRAINING = ["TRAINING", "EVALUATION"]
CHAIN = """query($work: ID, $licence: ID) {
  licenceChain(workId: $work, licenceId: $licence) { __typename
    ... on LicenceChain { pendingEntries entries { index step topic }
        checkpoint { treeSize rootHash } }
    ... on Error { message } } }"""
REGISTER_AUDITOR = """mutation($input: RegisterInput!) { register(input: $input) {
  ... on Registered { apiKey { secret } } } }"""
LICENCES = """{ licences(first: 100) { ... on LicenceConnection { items { id } } } }"""
BALANCES = """query($owner: ID) { balances(ownerId: $owner) { __typename
  ... on Balances { balances { accountKind balance { amountMinor currency } } } } }"""
LEDGER_CHECK = """{ ledgerCheck { __typename ... on LedgerCheck { sound transactions } } }"""

# The platform's current opt-in statement (`consentStatements` lists it with its words).
OPT_IN_STATEMENT = {"statementId": "opt-in", "statementVersion": "1"}


def consent_input(uses: list[str]) -> dict[str, Any]:
    """A consent to `uses` in the platform's words, the creator attesting to the rights."""
    return {
        "uses": uses,
        **OPT_IN_STATEMENT,
        "attestation": {"ownsRights": True, "depictsIdentifiablePeople": False},
    }


async def register(gateway: GraphQLClient, role: str, name: str) -> tuple[str, str]:
    email = f"{name.lower().replace(' ', '.')}-{uuid.uuid4().hex[:6]}@example.org"
    data = await gateway.execute(REGISTER, {"input": {"name": name, "email": email, "role": role}})
    return data["register"]["account"]["id"], data["register"]["apiKey"]["secret"]


def headers_of(pairs: list[dict[str, str]]) -> dict[str, str]:
    return {pair["name"]: pair["value"] for pair in pairs}


async def create_work(
    gateway: GraphQLClient, key: str, content: bytes, **overrides: Any
) -> dict[str, Any]:
    work = {
        "title": "Harbour at dawn",
        "description": "Oil on canvas, photographed in raw.",
        "mediaType": "IMAGE",
        "tags": ["painting", "harbour"],
        "language": "en",
        "file": {
            "fileName": "harbour.raw",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        },
    }
    work.update(overrides)
    created: dict[str, Any] = (await gateway.execute(CREATE_WORK, {"input": work}, key=key))[
        "createWork"
    ]
    return created


async def upload_single(created: dict[str, Any], content: bytes) -> None:
    put = created["upload"]["put"]
    async with httpx.AsyncClient() as http:
        response = await http.put(put["url"], content=content, headers=headers_of(put["headers"]))
    assert response.status_code == 200, response.text


async def list_for_sale(
    gateway: GraphQLClient, key: str, work_id: str, *, price: int, uses: list[str]
) -> None:
    consent = consent_input(uses)
    recorded = await gateway.execute(CONSENT, {"id": work_id, "input": consent}, key=key)
    assert recorded["giveConsent"]["consent"]["kind"] == "GIVEN"
    offer = {
        "priceMinor": price,
        "currency": "EUR",
        "terms": {
            "uses": uses,
            "commercialUse": True,
            "attributionRequired": True,
            "durationDays": 365,
        },
    }
    offered = await gateway.execute(OFFER, {"id": work_id, "input": offer}, key=key)
    assert offered["setOffer"]["__typename"] == "OfferSet", offered


async def search(gateway: GraphQLClient, key: str, **variables: Any) -> list[dict[str, Any]]:
    variables.setdefault("first", 20)
    result = (await gateway.execute(SEARCH, variables, key=key))["works"]
    assert result["__typename"] == "WorkConnection", result
    items: list[dict[str, Any]] = result["items"]
    return items


async def run_cli(
    command: list[str], *, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI as a lab runs it, in its own process, off the event loop."""
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=120
    )


async def listed_work(gateway: GraphQLClient, creator: str, *, price: int, title: str) -> str:
    content = os.urandom(50_000 + price)
    created = await create_work(gateway, creator, content, title=title)
    await upload_single(created, content)
    work_id: str = created["work"]["id"]
    completed = await gateway.execute(COMPLETE, {"id": work_id}, key=creator)
    assert completed["completeUpload"]["__typename"] == "UploadCompleted"
    await list_for_sale(gateway, creator, work_id, price=price, uses=TRAINING)
    return work_id


async def funded_buyer(
    gateway: GraphQLClient, admin: str, name: str, amount: int
) -> tuple[str, str]:
    buyer_id, key = await register(gateway, "BUYER", name)
    recorded = await gateway.execute(
        TOP_UP,
        {"buyer": buyer_id, "amount": amount, "ref": f"wire-{uuid.uuid4().hex[:8]}"},
        key=admin,
    )
    assert recorded["topUp"]["__typename"] == "MoneyRecorded", recorded
    return buyer_id, key


async def quote_for(gateway: GraphQLClient, key: str, work_ids: list[str]) -> dict[str, Any]:
    bundle = await gateway.execute(
        CREATE_BUNDLE,
        {"input": {"name": "eval set", "uses": TRAINING, "workIds": work_ids}},
        key=key,
    )
    assert bundle["createBundle"]["__typename"] == "BundleCreated", bundle
    quoted = await gateway.execute(QUOTE, {"id": bundle["createBundle"]["bundle"]["id"]}, key=key)
    assert quoted["quoteBundle"]["__typename"] == "QuoteIssued", quoted
    quote: dict[str, Any] = quoted["quoteBundle"]["quote"]
    return quote


async def buy(gateway: GraphQLClient, key: str, quote_id: str) -> dict[str, Any]:
    bought = await gateway.execute(
        PURCHASE, {"quote": quote_id, "key": f"order-{uuid.uuid4()}"}, key=key
    )
    assert bought["purchase"]["__typename"] == "PurchaseSucceeded", bought
    licence: dict[str, Any] = bought["purchase"]["licence"]
    return licence


async def delivered(gateway: GraphQLClient, key: str, licence_id: str) -> dict[str, Any]:
    """The licence once its delivery is built (the outbox carries the sale to delivery)."""
    for _ in range(200):
        licence: dict[str, Any] = (await gateway.execute(LICENCE, {"id": licence_id}, key=key))[
            "licence"
        ]
        delivery = licence["delivery"]
        if delivery is not None and delivery["status"] != "BUILDING":
            return licence
        await asyncio.sleep(0.1)
    raise AssertionError(f"licence {licence_id} was not delivered within 20 s")


async def chain_of(gateway: GraphQLClient, key: str, **subject: str) -> dict[str, Any]:
    found: dict[str, Any] = (await gateway.execute(CHAIN, subject, key=key))["licenceChain"]
    return found


async def proven_chain(
    gateway: GraphQLClient, key: str, steps: set[str], **subject: str
) -> dict[str, Any]:
    """The chain once every step has reached the log and a checkpoint covers it (events
    travel through outboxes, then the sequencer signs a checkpoint about once a second)."""
    for _ in range(150):
        chain = await chain_of(gateway, key, **subject)
        proven = chain["__typename"] == "LicenceChain" and not chain["pendingEntries"]
        if proven and steps <= {entry["step"] for entry in chain["entries"]}:
            return chain
        await asyncio.sleep(0.2)
    raise AssertionError(f"the chain of {subject} never held {steps}: {chain}")


def cli(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "assent.cli", *arguments]


async def eur_balance(gateway: GraphQLClient, key: str) -> int:
    found = (await gateway.execute(BALANCES, {}, key=key))["balances"]["balances"]
    amounts = [b["balance"]["amountMinor"] for b in found if b["balance"]["currency"] == "EUR"]
    return sum(amounts)


async def assert_ledger_sound(gateway: GraphQLClient, admin: str) -> None:
    check = (await gateway.execute(LEDGER_CHECK, key=admin))["ledgerCheck"]
    assert check["__typename"] == "LedgerCheck"
    assert check["sound"], check
