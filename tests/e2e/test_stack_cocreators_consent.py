"""Co-creators consent for themselves, every component in its own process: a work named
with two co-creators waits for both, sells once both accepted and consented, pays each
their share, and holds three consents in its chain; when one co-creator withdraws, it
leaves future sales while the licence already sold still downloads."""

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from assent.protocol import check_chain
from assent.verify import load_keys
from services.contracts.catalogue import ConsentRecorded
from services.contracts.events import Topic
from services.contracts.signing import WELL_KNOWN_KEYS_PATH
from tests.e2e.marketplace import (
    COMPLETE,
    CONSENT,
    CREATE_BUNDLE,
    OPT_IN_STATEMENT,
    QUOTE,
    TRAINING,
    buy,
    cli,
    consent_input,
    create_work,
    delivered,
    funded_buyer,
    list_for_sale,
    proven_chain,
    quote_for,
    register,
    run_cli,
    upload_single,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

SALE_STATUS = """query($id: ID!) { work(id: $id) { ... on Work {
  listed saleStatus { code creator { id } } } } }"""
INVITATIONS = """{ invitations { __typename ... on InvitationList {
  items { id status basisPoints work { id } } } } }"""
ACCEPT = """mutation($id: ID!) { acceptInvitation(id: $id) { __typename
  ... on InvitationAnswerRecorded { invitation { status } } } }"""
EARNINGS = """{ earnings { __typename ... on Earnings {
  lines { workId basisPoints amount { amountMinor } } } } }"""
WITHDRAW_CONSENT = """mutation($id: ID!) { withdrawConsent(workId: $id,
  statementId: "withdrawal", statementVersion: "1") { __typename } }"""
FILES = """query($id: ID!) { delivery(id: $id) { ... on Delivery {
  files { items { downloadUrl } } } } }"""
STATEMENTS = "{ consentStatements { id version text } }"
PRICE = 10_000


async def _awaiting(gateway: GraphQLClient, key: str, work_id: str) -> set[str]:
    work = (await gateway.execute(SALE_STATUS, {"id": work_id}, key=key))["work"]
    assert work["listed"] is False, work
    return {
        reason["creator"]["id"]
        for reason in work["saleStatus"]
        if reason["code"] == "AWAITING_CO_CREATOR"
    }


async def _accept_and_consent(gateway: GraphQLClient, key: str, work_id: str) -> None:
    invitations = (await gateway.execute(INVITATIONS, key=key))["invitations"]["items"]
    [invitation] = [found for found in invitations if found["work"]["id"] == work_id]
    accepted = await gateway.execute(ACCEPT, {"id": invitation["id"]}, key=key)
    assert accepted["acceptInvitation"]["invitation"]["status"] == "ACCEPTED", accepted
    consented = await gateway.execute(
        CONSENT, {"id": work_id, "input": consent_input(TRAINING)}, key=key
    )
    assert consented["giveConsent"]["consent"]["kind"] == "GIVEN", consented


async def _earned(gateway: GraphQLClient, key: str, work_id: str) -> list[tuple[int, int]]:
    lines = (await gateway.execute(EARNINGS, key=key))["earnings"]["lines"]
    return [
        (line["basisPoints"], line["amount"]["amountMinor"])
        for line in lines
        if line["workId"] == work_id
    ]


async def _quoted_out(gateway: GraphQLClient, key: str, work_id: str) -> dict[str, Any]:
    """A new quote for the work, once its withdrawal has reached the catalogue's listing."""
    bundle = await gateway.execute(
        CREATE_BUNDLE, {"input": {"name": "after", "uses": TRAINING, "workIds": [work_id]}}, key=key
    )
    bundle_id = bundle["createBundle"]["bundle"]["id"]
    quoted = (await gateway.execute(QUOTE, {"id": bundle_id}, key=key))["quoteBundle"]
    return dict(quoted)


async def _opt_in_words(gateway: GraphQLClient) -> str:
    published = (await gateway.execute(STATEMENTS))["consentStatements"]
    [words] = [
        statement["text"]
        for statement in published
        if (statement["id"], statement["version"])
        == (OPT_IN_STATEMENT["statementId"], OPT_IN_STATEMENT["statementVersion"])
    ]
    return str(words)


async def _exported_and_verified(
    running_stack: RunningStack, key: str, work_id: str, to: Path
) -> Path:
    """The work's chain exported by its creator, then verified offline by `assent verify`
    with only the published keys beside it."""
    gateway_url = running_stack.stack.gateway_url
    env = {**os.environ, "ASSENT_API_KEY": key, "ASSENT_GATEWAY_URL": gateway_url}
    exported = await run_cli(cli("audit", "export", "--work", work_id, "--to", str(to)), env=env)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    keys = to / "keys.json"
    async with httpx.AsyncClient() as http:
        keys.write_bytes((await http.get(gateway_url + WELL_KNOWN_KEYS_PATH)).content)
    document = to / f"chain-work-{work_id}.json"
    verified = await run_cli(cli("verify", str(document), "--keys", str(keys)))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    return document


async def test_co_creators_each_consent_are_each_paid_and_one_withdrawal_ends_future_sales(
    gateway: GraphQLClient, running_stack: RunningStack, tmp_path: Path
) -> None:
    owner_id, owner = await register(gateway, "CREATOR", "Noor Haddad")
    first_id, first = await register(gateway, "CREATOR", "Tomas Reyes")
    second_id, second = await register(gateway, "CREATOR", "Aiko Mori")
    shares = [
        {"creatorId": owner_id, "basisPoints": 5_000},
        {"creatorId": first_id, "basisPoints": 3_000},
        {"creatorId": second_id, "basisPoints": 2_000},
    ]
    content = os.urandom(40_000)
    created = await create_work(gateway, owner, content, title="Trio for strings", shares=shares)
    assert created["__typename"] == "WorkCreated", created
    work_id = created["work"]["id"]
    await upload_single(created, content)
    await gateway.execute(COMPLETE, {"id": work_id}, key=owner)
    await list_for_sale(gateway, owner, work_id, price=PRICE, uses=TRAINING)

    # Not for sale: the reasons name both co-creators.
    assert await _awaiting(gateway, owner, work_id) == {first_id, second_id}
    await _accept_and_consent(gateway, first, work_id)
    assert await _awaiting(gateway, owner, work_id) == {second_id}
    await _accept_and_consent(gateway, second, work_id)

    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Chorus Lab", 50_000)
    licence = await delivered(
        gateway,
        lab,
        (await buy(gateway, lab, (await quote_for(gateway, lab, [work_id]))["id"]))["id"],
    )

    # Each co-creator is paid their share of the creators' pool.
    owner_paid, first_paid, second_paid = [
        await _earned(gateway, key, work_id) for key in (owner, first, second)
    ]
    assert [line[0] for line in owner_paid + first_paid + second_paid] == [5_000, 3_000, 2_000]
    assert owner_paid[0][1] > first_paid[0][1] > second_paid[0][1] > 0
    # The chain holds the three consents, one per member, proven by a checkpoint.
    chain = await proven_chain(gateway, owner, {"CONSENT", "LICENCE"}, work=work_id)
    topics = [entry["topic"] for entry in chain["entries"] if entry["step"] == "CONSENT"]
    assert topics.count("consent.given") == 3
    assert topics.count("invitation.accepted") == 2
    # Exported and verified offline: three consents, one per member, each in the words of
    # the statement they chose.
    document = await _exported_and_verified(running_stack, owner, work_id, tmp_path)
    check = check_chain(json.loads(document.read_text()), load_keys(str(tmp_path / "keys.json")))
    assert check.ok, check.problems
    consents = [
        event.payload
        for event in check.events
        if event.topic == Topic.CONSENT_GIVEN and isinstance(event.payload, ConsentRecorded)
    ]
    assert sorted(str(consent.given_by) for consent in consents) == sorted(
        [owner_id, first_id, second_id]
    )
    words = await _opt_in_words(gateway)
    assert [consent.statement_text for consent in consents] == [words] * 3

    withdrawn = await gateway.execute(WITHDRAW_CONSENT, {"id": work_id}, key=second)
    assert withdrawn["withdrawConsent"]["__typename"] == "ConsentRecorded", withdrawn

    assert await _awaiting(gateway, owner, work_id) == {second_id}
    quoted = await _quoted_out(gateway, lab, work_id)
    assert quoted["__typename"] == "QuoteIssued", quoted
    assert quoted["quote"]["lines"] == [], quoted
    assert quoted["quote"]["excluded"] == [{"workId": work_id, "reason": "NOT_FOUND"}], quoted
    # The licence already sold still downloads.
    files = (await gateway.execute(FILES, {"id": licence["delivery"]["id"]}, key=lab))["delivery"]
    async with httpx.AsyncClient() as http:
        response = await http.get(
            files["files"]["items"][0]["downloadUrl"], headers={"authorization": f"Bearer {lab}"}
        )
    assert response.status_code == 307, response.text
