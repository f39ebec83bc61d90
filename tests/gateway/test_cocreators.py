"""Naming co-creators in createWork: an account that exists and is a creator is accepted
the moment it has registered; field errors name the input's own paths."""

import hashlib
import os
import uuid
from typing import Any

import pytest

from tests.e2e.marketplace import register
from tests.fixtures.graphql import GraphQLClient

CREATE_WORK = """mutation($input: CreateWorkInput!) { createWork(input: $input) {
  __typename
  ... on WorkCreated { work { id shares { creator { id name } basisPoints } } }
  ... on ValidationFailed { fields { field code } } } }"""


def work_input(shares: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    content = os.urandom(1_000)
    work: dict[str, Any] = {
        "title": "Duet for two hands",
        "mediaType": "IMAGE",
        "language": "en",
        "file": {
            "fileName": "duet.raw",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        },
        "shares": shares,
    }
    work.update(overrides)
    return work


async def create_work(gateway: GraphQLClient, key: str, work: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = (await gateway.execute(CREATE_WORK, {"input": work}, key=key))[
        "createWork"
    ]
    return created


@pytest.mark.stack
async def test_a_co_creator_who_just_registered_is_accepted_at_once(
    gateway: GraphQLClient,
) -> None:
    for attempt in range(5):
        owner_id, owner = await register(gateway, "CREATOR", f"Lea Moreau {attempt}")
        partner_id, _ = await register(gateway, "CREATOR", f"Sam Idowu {attempt}")
        shares = [
            {"creatorId": owner_id, "basisPoints": 6_000},
            {"creatorId": partner_id, "basisPoints": 4_000},
        ]
        created = await create_work(gateway, owner, work_input(shares))
        assert created["__typename"] == "WorkCreated", created
        assert created["work"]["shares"] == [
            {"creator": {"id": owner_id, "name": f"Lea Moreau {attempt}"}, "basisPoints": 6_000},
            {"creator": {"id": partner_id, "name": f"Sam Idowu {attempt}"}, "basisPoints": 4_000},
        ]


@pytest.mark.stack
async def test_an_unknown_account_or_one_that_is_no_creator_is_still_refused(
    gateway: GraphQLClient,
) -> None:
    owner_id, owner = await register(gateway, "CREATOR", "Ines Araujo")
    buyer_id, _ = await register(gateway, "BUYER", "Northwind Lab")
    for stranger in (buyer_id, str(uuid.uuid4())):
        shares = [
            {"creatorId": owner_id, "basisPoints": 5_000},
            {"creatorId": stranger, "basisPoints": 5_000},
        ]
        refused = await create_work(gateway, owner, work_input(shares))
        assert refused == {
            "__typename": "ValidationFailed",
            "fields": [{"field": "shares.1.creatorId", "code": "unknown_creator"}],
        }


async def test_share_errors_name_the_inputs_paths(client: GraphQLClient, admin_key: str) -> None:
    creator = str(uuid.uuid4())
    zero = work_input(
        [{"creatorId": creator, "basisPoints": 10_000}, {"creatorId": creator, "basisPoints": 0}]
    )
    refused = await create_work(client, admin_key, zero)
    assert refused == {
        "__typename": "ValidationFailed",
        "fields": [{"field": "shares.1.basisPoints", "code": "greater_than_equal"}],
    }

    not_an_id = work_input([{"creatorId": "nobody", "basisPoints": 10_000}])
    not_an_id["file"]["fileName"] = ""
    refused = await create_work(client, admin_key, not_an_id)
    assert refused["__typename"] == "ValidationFailed"
    assert {f["field"] for f in refused["fields"]} == {"file.fileName", "shares.0.creatorId"}
