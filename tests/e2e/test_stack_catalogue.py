"""A creator lists works and a lab finds them, every component in its own process."""

import asyncio
import hashlib
import os
import uuid

import httpx
import pytest

from tests.e2e.marketplace import (
    COMPLETE,
    CONSENT,
    OFFER,
    PRESIGN_PARTS,
    SEARCH,
    UPLOAD_TARGET,
    WITHDRAW,
    WORK,
    MiB,
    consent_input,
    create_work,
    headers_of,
    list_for_sale,
    listed_work,
    register,
    search,
    upload_single,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

INVITATIONS = """{ invitations { ... on InvitationList {
  items { id status basisPoints work { id } } } } }"""
ACCEPT = """mutation($id: ID!) { acceptInvitation(id: $id) { __typename } }"""


async def test_a_creator_lists_a_work_and_a_lab_finds_it(gateway: GraphQLClient) -> None:
    creator_id, creator = await register(gateway, "CREATOR", "Mira Okafor")
    _, lab = await register(gateway, "BUYER", "Northwind Lab")
    word = f"lighthouse{uuid.uuid4().hex[:8]}"
    content = os.urandom(200_000)

    created = await create_work(gateway, creator, content, title=f"The {word} at dawn")
    work_id = created["work"]["id"]
    assert created["upload"]["method"] == "SINGLE"
    assert await search(gateway, lab, filter={"query": word}) == []

    await upload_single(created, content)
    completed = await gateway.execute(COMPLETE, {"id": work_id}, key=creator)
    assert completed["completeUpload"]["work"]["currentVersion"] == {
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
    }
    # Uploaded but not consented: still invisible to a buyer.
    assert await search(gateway, lab, filter={"query": word}) == []
    assert (await gateway.execute(WORK, {"id": work_id}, key=lab))["work"][
        "__typename"
    ] == "NotFound"

    await list_for_sale(gateway, creator, work_id, price=12_50, uses=["TRAINING", "EVALUATION"])

    found = await search(gateway, lab, filter={"query": word})
    assert [(w["id"], w["listed"], w["owner"]["name"]) for w in found] == [
        (work_id, True, "Mira Okafor")
    ]
    assert found[0]["shares"] == [{"creator": {"id": creator_id}, "basisPoints": 10_000}]
    filtered = {
        "query": word,
        "mediaTypes": ["IMAGE"],
        "uses": ["TRAINING"],
        "maxPriceMinor": 12_50,
        "currency": "EUR",
        "tags": ["harbour"],
        "language": "en",
    }
    assert [w["id"] for w in await search(gateway, lab, filter=filtered)] == [work_id]
    for excluding in (
        {"mediaTypes": ["AUDIO"]},
        {"uses": ["RETRIEVAL"]},
        {"maxPriceMinor": 12_49, "currency": "EUR"},
        {"tags": ["sculpture"]},
    ):
        assert await search(gateway, lab, filter={"query": word, **excluding}) == [], excluding

    withdrawn = await gateway.execute(WITHDRAW, {"id": work_id}, key=creator)
    assert withdrawn["withdrawWork"]["__typename"] == "WorkWithdrawn"
    assert await search(gateway, lab, filter={"query": word}) == []
    assert (await gateway.execute(WORK, {"id": work_id}, key=lab))["work"][
        "__typename"
    ] == "NotFound"


async def test_a_large_file_uploads_in_parts_and_resumes(gateway: GraphQLClient) -> None:
    _, creator = await register(gateway, "CREATOR", "Tomas Reyes")
    content = os.urandom(11 * MiB)  # above the stack's 6 MiB multipart threshold

    created = await create_work(
        gateway, creator, content, title="Field recordings", mediaType="AUDIO"
    )
    work_id = created["work"]["id"]
    upload = created["upload"]
    assert upload["method"] == "MULTIPART"
    part_size = upload["partSize"]
    chunks = [content[i : i + part_size] for i in range(0, len(content), part_size)]
    assert upload["partCount"] == len(chunks) >= 2

    async def send(part_numbers: list[int]) -> None:
        parts = [
            {"partNumber": n, "sha256": hashlib.sha256(chunks[n - 1]).hexdigest()}
            for n in part_numbers
        ]
        presigned = await gateway.execute(
            PRESIGN_PARTS, {"id": work_id, "parts": parts}, key=creator
        )
        async with httpx.AsyncClient(timeout=60) as http:
            for part in presigned["presignUploadParts"]["parts"]:
                body = chunks[part["partNumber"] - 1]
                response = await http.put(
                    part["url"], content=body, headers=headers_of(part["headers"])
                )
                assert response.status_code == 200, response.text

    await send([1])
    # The connection drops; the client asks what is already there and sends the rest.
    target = (await gateway.execute(UPLOAD_TARGET, {"id": work_id}, key=creator))["uploadTarget"]
    assert [p["partNumber"] for p in target["uploadedParts"]] == [1]
    await send([n for n in range(1, len(chunks) + 1) if n != 1])

    completed = (await gateway.execute(COMPLETE, {"id": work_id}, key=creator))["completeUpload"]
    assert completed["__typename"] == "UploadCompleted", completed
    assert completed["work"]["currentVersion"]["sha256"] == hashlib.sha256(content).hexdigest()


async def test_a_wrong_checksum_is_refused_and_the_work_stays_pending(
    gateway: GraphQLClient,
) -> None:
    _, creator = await register(gateway, "CREATOR", "Ana Lind")
    declared = os.urandom(50_000)

    created = await create_work(gateway, creator, declared)
    await upload_single(
        created, declared[:-1] + b"\x00" if declared[-1] else declared[:-1] + b"\x01"
    )
    result = (await gateway.execute(COMPLETE, {"id": created["work"]["id"]}, key=creator))[
        "completeUpload"
    ]

    assert result["__typename"] == "UploadRejected"
    assert "sha256" in result["reason"]
    assert result["work"]["status"] == "PENDING_UPLOAD"


async def test_offers_stay_within_consent_and_co_creators_split(gateway: GraphQLClient) -> None:
    creator_id, creator = await register(gateway, "CREATOR", "Lea Moreau")
    partner_id, partner = await register(gateway, "CREATOR", "Sam Idowu")
    content = os.urandom(10_000)
    shares = [
        {"creatorId": creator_id, "basisPoints": 6_000},
        {"creatorId": partner_id, "basisPoints": 3_000},
    ]

    uneven = await create_work(gateway, creator, content, shares=shares)
    shares[1]["basisPoints"] = 4_000
    # The catalogue learns of a new account through the outbox: a partner who registered
    # a moment ago may take a moment to become nameable: within a second.
    for _ in range(10):
        created = await create_work(gateway, creator, content, shares=shares, title="Duet")
        if created["__typename"] == "WorkCreated":
            break
        assert created["fields"] == [{"field": "shares.1.creatorId", "code": "unknown_creator"}]
        await asyncio.sleep(0.1)
    work_id = created["work"]["id"]
    await upload_single(created, content)
    await gateway.execute(COMPLETE, {"id": work_id}, key=creator)
    terms = {
        "uses": ["TRAINING"],
        "commercialUse": False,
        "attributionRequired": True,
        "durationDays": 30,
    }
    offer = {"priceMinor": 500, "currency": "EUR", "terms": terms}
    before_consent = await gateway.execute(OFFER, {"id": work_id, "input": offer}, key=creator)
    consent = consent_input(["EVALUATION"])
    await gateway.execute(CONSENT, {"id": work_id, "input": consent}, key=creator)
    outside_consent = await gateway.execute(OFFER, {"id": work_id, "input": offer}, key=creator)
    within = {**offer, "terms": {**terms, "uses": ["EVALUATION"]}}
    within_consent = await gateway.execute(OFFER, {"id": work_id, "input": within}, key=creator)
    awaiting_partner = (await gateway.execute(WORK, {"id": work_id}, key=creator))["work"]
    # The partner accepts their share and consents for themselves: then it is for sale.
    invitations = (await gateway.execute(INVITATIONS, key=partner))["invitations"]["items"]
    [invitation] = [found for found in invitations if found["work"]["id"] == work_id]
    accepted = await gateway.execute(ACCEPT, {"id": invitation["id"]}, key=partner)
    await gateway.execute(CONSENT, {"id": work_id, "input": consent}, key=partner)
    listed = (await gateway.execute(WORK, {"id": work_id}, key=creator))["work"]

    assert uneven["__typename"] == "ValidationFailed"
    assert created["__typename"] == "WorkCreated"
    assert before_consent["setOffer"]["__typename"] == "ConsentRequired"
    assert outside_consent["setOffer"]["__typename"] == "ValidationFailed"
    assert {"field": "terms.uses", "code": "not_consented"} in outside_consent["setOffer"]["fields"]
    assert within_consent["setOffer"]["__typename"] == "OfferSet"
    assert awaiting_partner["listed"] is False
    assert (invitation["basisPoints"], invitation["status"]) == (4_000, "PENDING")
    assert accepted["acceptInvitation"]["__typename"] == "InvitationAnswerRecorded"
    assert listed["listed"] is True


async def test_another_creator_cannot_touch_a_work(gateway: GraphQLClient) -> None:
    _, owner = await register(gateway, "CREATOR", "Owner")
    _, stranger = await register(gateway, "CREATOR", "Stranger")
    created = await create_work(gateway, owner, b"draft bytes")
    work_id = created["work"]["id"]

    seen = await gateway.execute(WORK, {"id": work_id}, key=stranger)
    withdrawn = await gateway.execute(WITHDRAW, {"id": work_id}, key=stranger)
    consent = consent_input(["TRAINING"])
    consented = await gateway.execute(CONSENT, {"id": work_id, "input": consent}, key=stranger)

    assert seen["work"]["__typename"] == "NotFound"
    assert withdrawn["withdrawWork"]["__typename"] == "NotFound"
    assert consented["giveConsent"]["__typename"] == "NotFound"
    assert (await gateway.execute(WORK, {"id": work_id}, key=owner))["work"]["__typename"] == "Work"


async def test_search_pages_do_not_overlap(gateway: GraphQLClient) -> None:
    _, creator = await register(gateway, "CREATOR", "Prolific")
    _, lab = await register(gateway, "BUYER", "Pager Lab")
    word = f"pagetest{uuid.uuid4().hex[:8]}"
    listed = []
    for index in range(5):
        content = os.urandom(1000)
        created = await create_work(gateway, creator, content, title=f"{word} study {index}")
        await upload_single(created, content)
        await gateway.execute(COMPLETE, {"id": created["work"]["id"]}, key=creator)
        await list_for_sale(
            gateway, creator, created["work"]["id"], price=100 + index, uses=["TRAINING"]
        )
        listed.append(created["work"]["id"])

    seen: list[str] = []
    after = None
    while True:
        result = (
            await gateway.execute(
                SEARCH,
                {"filter": {"query": word}, "sort": "PRICE_ASC", "first": 2, "after": after},
                key=lab,
            )
        )["works"]
        seen += [item["id"] for item in result["items"]]
        if (after := result["nextCursor"]) is None:
            break

    assert seen == listed


async def test_an_account_made_a_creator_later_can_be_a_co_creator(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    owner_id, owner = await register(gateway, "CREATOR", "Ines Owner")
    later_id, _ = await register(gateway, "BUYER", "Later Creator")
    grant = """mutation($id: ID!) { grantRole(accountId: $id, role: CREATOR) { __typename } }"""
    shares = [
        {"creatorId": owner_id, "basisPoints": 5_000},
        {"creatorId": later_id, "basisPoints": 5_000},
    ]

    before = await create_work(gateway, owner, b"joint work", shares=shares)
    granted = await gateway.execute(grant, {"id": later_id}, key=running_stack.admin_key)
    # The grant reaches the catalogue's creator directory through the outbox.
    for _ in range(50):
        after = await create_work(gateway, owner, b"joint work", shares=shares)
        if after["__typename"] == "WorkCreated":
            break
        await asyncio.sleep(0.1)

    assert before["__typename"] == "ValidationFailed"
    assert granted["grantRole"]["__typename"] == "RoleGranted"
    assert after["__typename"] == "WorkCreated"


async def test_a_review_of_a_work_nobody_flagged_is_a_typed_conflict(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    _, creator = await register(gateway, "CREATOR", "Oskar Lind")
    work_id = await listed_work(gateway, creator, price=900, title="Birches in fog")
    review = """mutation($id: ID!) { reviewWork(workId: $id, accept: false) { __typename
      ... on Conflict { code } } }"""
    refused = await gateway.execute(review, {"id": work_id}, key=running_stack.admin_key)
    assert refused["reviewWork"] == {"__typename": "Conflict", "code": "NotUnderReview"}
    # Still listed: a refused review changes nothing.
    found = await gateway.execute(WORK, {"id": work_id}, key=creator)
    assert found["work"]["listed"] is True
