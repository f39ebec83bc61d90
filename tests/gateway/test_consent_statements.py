"""Consent through GraphQL in the platform's words: the statements are served, a consent
names one by id and version with the rights attested, anything else is a typed refusal,
and the work's chain holds the exact words agreed to."""

import asyncio
import json
import os
from typing import Any

import pytest

from tests.e2e.marketplace import (
    consent_input,
    create_work,
    register,
    upload_single,
)
from tests.fixtures.graphql import GraphQLClient

pytestmark = pytest.mark.stack

STATEMENTS = "{ consentStatements { id version scope current sha256 text } }"
GIVE = """mutation($id: ID!, $input: ConsentInput!) { giveConsent(workId: $id, input: $input) {
  __typename
  ... on ConsentRecorded { consent { kind statementId statementVersion statementSha256
      statementText attestation { ownsRights depictsIdentifiablePeople holdsReleases } } }
  ... on ValidationFailed { fields { field code } } } }"""
WITHDRAW = """mutation($id: ID!, $statement: String!, $version: String!) {
  withdrawConsent(workId: $id, statementId: $statement, statementVersion: $version) {
  __typename ... on ConsentRecorded { consent { kind statementId statementText } }
  ... on ValidationFailed { fields { field code } } } }"""
CHAIN_ENTRIES = """query($work: ID) { licenceChain(workId: $work) { __typename
  ... on LicenceChain { entries { topic entry } } } }"""


async def _uploaded_work(gateway: GraphQLClient, key: str) -> str:
    content = os.urandom(2_000)
    created = await create_work(gateway, key, content)
    await upload_single(created, content)
    completed = await gateway.execute(
        "mutation($id: ID!) { completeUpload(workId: $id) { __typename } }",
        {"id": created["work"]["id"]},
        key=key,
    )
    assert completed["completeUpload"]["__typename"] == "UploadCompleted", completed
    work_id: str = created["work"]["id"]
    return work_id


async def _logged_consents(gateway: GraphQLClient, key: str, work_id: str) -> dict[str, Any]:
    """The payloads of the work's consent entries, once both have reached the log (events
    travel through the outboxes first)."""
    chain: dict[str, Any] = {}
    for _ in range(150):
        chain = (await gateway.execute(CHAIN_ENTRIES, {"work": work_id}, key=key))["licenceChain"]
        # Until the work's first entry is in the log, there is no chain of it to show.
        if chain["__typename"] == "LicenceChain":
            logged = {
                entry["topic"]: json.loads(entry["entry"])["payload"]
                for entry in chain["entries"]
                if entry["topic"].startswith("consent.")
            }
            if {"consent.given", "consent.withdrawn"} <= set(logged):
                return logged
        await asyncio.sleep(0.2)
    raise AssertionError(f"the consents of work {work_id} never reached its chain: {chain}")


async def _give(gateway: GraphQLClient, key: str, work_id: str, **changes: Any) -> Any:
    consent = {**consent_input(["TRAINING"]), **changes}
    return (await gateway.execute(GIVE, {"id": work_id, "input": consent}, key=key))["giveConsent"]


async def test_consent_in_the_platforms_words_reaches_the_chain(gateway: GraphQLClient) -> None:
    _, creator = await register(gateway, "CREATOR", "Noor Haddad")
    work_id = await _uploaded_work(gateway, creator)
    statements = (await gateway.execute(STATEMENTS, {}, key=creator))["consentStatements"]
    current = {s["scope"]: s for s in statements if s["current"]}

    unknown = await _give(gateway, creator, work_id, statementId="i-agree")
    stale = await _give(gateway, creator, work_id, statementVersion="0")
    unattested = await _give(
        gateway,
        creator,
        work_id,
        attestation={"ownsRights": True, "depictsIdentifiablePeople": True},
    )
    given = await _give(
        gateway,
        creator,
        work_id,
        attestation={"ownsRights": True, "depictsIdentifiablePeople": True, "holdsReleases": True},
    )
    withdrawal = current["WITHDRAWAL"]
    withdrawn = (
        await gateway.execute(
            WITHDRAW,
            {"id": work_id, "statement": withdrawal["id"], "version": withdrawal["version"]},
            key=creator,
        )
    )["withdrawConsent"]

    assert unknown == {
        "__typename": "ValidationFailed",
        "fields": [{"field": "statementId", "code": "unknown_statement"}],
    }
    assert stale["fields"] == [{"field": "statementVersion", "code": "unknown_statement_version"}]
    assert unattested["fields"] == [
        {"field": "attestation.holdsReleases", "code": "releases_not_attested"}
    ]
    opt_in = current["OPT_IN"]
    assert given["consent"] == {
        "kind": "GIVEN",
        "statementId": opt_in["id"],
        "statementVersion": opt_in["version"],
        "statementSha256": opt_in["sha256"],
        "statementText": opt_in["text"],
        "attestation": {
            "ownsRights": True,
            "depictsIdentifiablePeople": True,
            "holdsReleases": True,
        },
    }
    assert withdrawn["consent"] == {
        "kind": "WITHDRAWN",
        "statementId": "withdrawal",
        "statementText": withdrawal["text"],
    }

    logged = await _logged_consents(gateway, creator, work_id)
    assert logged["consent.given"]["statement_text"] == opt_in["text"]
    assert logged["consent.given"]["attestation"]["holds_releases"] is True
    assert logged["consent.withdrawn"]["statement_text"] == withdrawal["text"]
