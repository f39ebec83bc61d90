"""Hostile inputs through the gateway, with the services behind it on PostgreSQL and S3:
each is answered by a union member, never by a 5xx or the masked "Unexpected error."
The catalogue's own REST tests already cover hostile search strings, wrong checksums and
sizes, and NUL characters at the service; these cover what reaches a user."""

import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.contracts.roles import Role
from storage import ObjectStore
from storage.keys import work_version_key
from tests.fixtures.graphql import GraphQLClient
from tests.fuzz.runner import GraphQLTarget, Target
from tests.services.catalogue.helpers import SIGNER, Actor
from tests.services.licensing.helpers import Api as LicensingApi


@pytest.fixture
async def gateway(graphql_target: GraphQLTarget) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=graphql_target.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield GraphQLClient("/graphql", http)


async def _answer(
    gateway: GraphQLClient, key: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """The one field's answer; any top-level error (a masked one above all) fails."""
    data = await gateway.execute(query, variables, key=key)
    (answer,) = data.values()
    result: dict[str, Any] = answer
    return result


TRACE = """mutation($manifest: String!) { traceManifest(manifest: $manifest) {
  __typename ... on TraceReport { licenceId confidence }
  ... on ValidationFailed { fields { field code } } } }"""


def _deeply_nested(depth: int) -> str:
    return '{"entries": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize(
    "manifest",
    [
        "not a manifest at all",
        "{}",
        '{"entries": "nope", "payloadType": 7}',
        _deeply_nested(100_000),
        json.dumps({"entries": [{"fingerprint": "0" * 32}] * 15_000}),
        "\x00" * 10_000,
        os.urandom(100_000).decode("latin-1"),
        "\ufeff" + "💥" * 20_000,
    ],
    ids=["prose", "empty", "wrong-types", "nested", "huge", "nul", "binary", "unicode"],
)
async def test_a_malformed_manifest_traces_to_nobody(
    gateway: GraphQLClient, graphql_target: GraphQLTarget, manifest: str
) -> None:
    traced = await _answer(gateway, graphql_target.keys["admin"], TRACE, {"manifest": manifest})

    assert traced["__typename"] in ("TraceReport", "ValidationFailed"), traced
    if traced["__typename"] == "TraceReport":
        assert traced["licenceId"] is None
        assert traced["confidence"] == 0


SEARCH = """query($query: String) { works(filter: {query: $query}) {
  __typename ... on WorkConnection { items { id } } ... on ValidationFailed { fields { code } } } }"""


@pytest.mark.parametrize(
    "query",
    [
        "') OR 1=1; DROP TABLE work; --",
        'harbour & | ! ( ) <-> :* "',
        "\x00",
        "harbour\x00lights",
        "%_\\",
        "ハーバー ナイト 🌊",
        "\u202e\u200b\ufeff",
        "a" * 500,
        "a" * 5_000,
    ],
)
async def test_a_hostile_search_is_answered_without_error(
    gateway: GraphQLClient, graphql_target: GraphQLTarget, query: str
) -> None:
    found = await _answer(gateway, graphql_target.keys[Role.BUYER], SEARCH, {"query": query})

    assert found["__typename"] in ("WorkConnection", "ValidationFailed"), found


CREATE = """mutation($input: CreateWorkInput!) { createWork(input: $input) {
  __typename ... on WorkCreated { work { id } upload { versionId } } } }"""
COMPLETE = """mutation($id: ID!) { completeUpload(workId: $id) {
  __typename ... on UploadRejected { reason work { status currentVersion { id } } }
  ... on Conflict { code } } }"""
WORK = """query($id: ID!) { work(id: $id) { __typename
  ... on Work { status listed currentVersion { id } pendingVersion { status } } } }"""


@pytest.mark.parametrize(
    "stored",
    [b"declared" + b"!", b"declared"[:-1], b"DECLARED"],
    ids=["larger", "smaller", "other"],
)
async def test_an_upload_unlike_its_declaration_is_refused_and_changes_nothing(
    gateway: GraphQLClient, graphql_target: GraphQLTarget, shared_app: FastAPI, stored: bytes
) -> None:
    creator = graphql_target.keys[Role.CREATOR]
    declared = b"declared"
    file = {
        "fileName": "a.txt",
        "size": len(declared),
        "sha256": hashlib.sha256(declared).hexdigest(),
    }
    work_input = {"title": "Upload", "mediaType": "TEXT", "language": "en", "file": file}
    created = await _answer(gateway, creator, CREATE, {"input": work_input})
    work_id = created["work"]["id"]
    # Straight into the store, as a store that checks no presigned length or checksum
    # (moto) would take them through the upload URL.
    store: ObjectStore = shared_app.state.object_store
    key = work_version_key(uuid.UUID(work_id), uuid.UUID(created["upload"]["versionId"]))
    await store.put(key, stored)

    rejected = await _answer(gateway, creator, COMPLETE, {"id": work_id})
    again = await _answer(gateway, creator, COMPLETE, {"id": work_id})
    work = await _answer(gateway, creator, WORK, {"id": work_id})

    assert rejected["__typename"] == "UploadRejected", rejected
    assert rejected["work"] == {"status": "PENDING_UPLOAD", "currentVersion": None}
    assert again == {"__typename": "Conflict", "code": "UploadClosed"}
    assert work["status"] == "PENDING_UPLOAD"
    assert (work["listed"], work["currentVersion"]) == (False, None)
    assert work["pendingVersion"]["status"] == "FAILED"


# --- regressions for what the fuzzing found ---

PURCHASE = """mutation($quote: ID!, $key: String!) { purchase(quoteId: $quote, idempotencyKey: $key) {
  __typename } }"""


async def test_buying_a_quote_that_does_not_exist_is_not_found(
    gateway: GraphQLClient, graphql_target: GraphQLTarget
) -> None:
    variables = {"quote": str(uuid.uuid4()), "key": "fuzz-1"}

    bought = await _answer(gateway, graphql_target.keys[Role.BUYER], PURCHASE, variables)

    assert bought == {"__typename": "NotFound"}


async def test_the_same_key_still_buys_a_real_quote_after_an_unknown_one(
    licensing_target: Target, buyer: Actor
) -> None:
    transport = httpx.ASGITransport(app=licensing_target.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://licensing") as http:
        api = LicensingApi(http)
        unknown = await api.buy(buyer, str(uuid.uuid4()), key="k-2")
        assert (unknown.status_code, unknown.json()["error"]) == (404, "NotFound")
        replayed = await api.bought(buyer, licensing_target.known["quote_id"], key="k-1")
    assert replayed["id"] == licensing_target.known["licence_id"]


@pytest.mark.parametrize("page", ["bundles", "licences"])
async def test_a_forged_cursor_is_a_validation_failure(
    gateway: GraphQLClient, graphql_target: GraphQLTarget, page: str
) -> None:
    query = f"query($after: String) {{ {page}(after: $after) {{ __typename }} }}"

    answer = await _answer(gateway, graphql_target.keys[Role.BUYER], query, {"after": "(\x98¢m"})

    assert answer == {"__typename": "ValidationFailed"}


NAMED = """mutation($name: String!) { createApiKey(name: $name) {
  __typename ... on ValidationFailed { fields { field code } } } }"""
REGISTER = """mutation($name: String!, $email: String!) {
  register(input: {name: $name, email: $email, role: BUYER}) {
  __typename ... on ValidationFailed { fields { field code } } } }"""


async def test_a_nul_in_an_account_text_is_refused(
    gateway: GraphQLClient, graphql_target: GraphQLTarget
) -> None:
    key = graphql_target.keys[Role.BUYER]

    named = await _answer(gateway, key, NAMED, {"name": "key\x00name"})
    registered = await _answer(
        gateway, key, REGISTER, {"name": "a\x00b", "email": "nul\x00@example.org"}
    )

    assert named["fields"] == [{"field": "name", "code": "nul_character"}]
    assert {(f["field"], f["code"]) for f in registered["fields"]} == {
        ("name", "nul_character"),
        ("email", "invalid"),
    }


def _event(topic: str, payload: dict[str, Any], *, source: str = "licensing") -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "topic": topic,
        "source": source,
        "occurred_at": "2026-05-01T09:00:00Z",
        "payload": payload,
    }


async def test_an_event_a_service_cannot_take_is_refused_not_a_server_error(
    catalogue_target: Target, audit_target: Target
) -> None:
    """An event whose payload breaks its topic's contract, or holds a NUL PostgreSQL
    cannot store, is refused, so the sender's relay finds it rather than retrying a 500."""
    relay = Actor(subject="service:licensing", roles=frozenset({Role.SERVICE}), name=None)
    cases = [
        (catalogue_target, _event("account.role_granted", {"6": {}}), 400),
        (audit_target, _event("account.registered", {"name": "x"}, source="a\x00b"), 422),
        (catalogue_target, _event("account.registered", {"name": "x"}, source="a\x00b"), 422),
    ]
    for target, event, status in cases:
        token = SIGNER.sign(subject=relay.subject, roles=relay.roles, audience=target.service)
        transport = httpx.ASGITransport(app=target.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
            response = await http.post(
                "/internal/events", json=event, headers={"authorization": f"Bearer {token}"}
            )
        assert response.status_code == status, (target.service, response.text)
