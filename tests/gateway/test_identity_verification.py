"""An admin confirms the organisation an account acts for; the audit log is told, so that
a chain export names the account by it."""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.events import AccountIdentityVerified, IdentityKind, Topic
from services.kit.outbox import OutboxDelivery
from tests.fixtures.graphql import GraphQLClient
from tests.gateway.test_accounts import ME, register

VERIFY = """mutation($id: ID!, $name: String!) { verifyOrganisation(accountId: $id, name: $name) {
  __typename
  ... on OrganisationVerified { account { id name } organisation verifiedAt }
  ... on ValidationFailed { message fields { field code } }
  ... on NotFound { message } ... on Forbidden { message } ... on Unauthenticated { message } } }"""


async def test_an_admin_confirms_an_organisation_and_the_audit_log_is_told(
    client: GraphQLClient, admin_key: str, gateway_session: AsyncSession
) -> None:
    lab = await register(client, "Lab Seven", "seven@example.org", "BUYER")
    admin = (await client.execute(ME, key=admin_key))["me"]

    answer = await client.execute(
        VERIFY, {"id": lab["account"]["id"], "name": "  Seven Labs GmbH "}, key=admin_key
    )

    verified = answer["verifyOrganisation"]
    assert verified["__typename"] == "OrganisationVerified"
    assert verified["organisation"] == "Seven Labs GmbH"
    assert verified["account"] == {"id": lab["account"]["id"], "name": "Lab Seven"}
    rows = (
        await gateway_session.scalars(
            select(OutboxDelivery).where(OutboxDelivery.topic == Topic.ACCOUNT_IDENTITY_VERIFIED)
        )
    ).all()
    assert [row.destination for row in rows] == ["audit"]
    logged = AccountIdentityVerified.model_validate(rows[0].payload)
    assert logged.account_id == uuid.UUID(lab["account"]["id"])
    assert logged.kind is IdentityKind.ORGANISATION
    assert logged.value == "Seven Labs GmbH"
    assert logged.verified_by == uuid.UUID(admin["id"])
    assert logged.verified_at == datetime.fromisoformat(verified["verifiedAt"])


async def test_only_an_admin_confirms_an_organisation(
    client: GraphQLClient, gateway_session: AsyncSession
) -> None:
    lab = await register(client, "Lab Eight", "eight@example.org", "BUYER")

    own = await client.execute(
        VERIFY, {"id": lab["account"]["id"], "name": "Eight Inc."}, key=lab["apiKey"]["secret"]
    )
    anonymous = await client.execute(VERIFY, {"id": lab["account"]["id"], "name": "Eight Inc."})

    assert own["verifyOrganisation"]["__typename"] == "Forbidden"
    assert anonymous["verifyOrganisation"]["__typename"] == "Unauthenticated"
    logged = await gateway_session.scalars(
        select(OutboxDelivery).where(OutboxDelivery.topic == Topic.ACCOUNT_IDENTITY_VERIFIED)
    )
    assert logged.all() == []


async def test_a_bad_name_or_account_is_a_typed_failure(
    client: GraphQLClient, admin_key: str
) -> None:
    lab = await register(client, "Lab Nine", "nine@example.org", "BUYER")

    answers = [
        (await client.execute(VERIFY, variables, key=admin_key))["verifyOrganisation"]
        for variables in (
            {"id": lab["account"]["id"], "name": "   "},
            {"id": lab["account"]["id"], "name": "x" * 201},
            {"id": lab["account"]["id"], "name": "Nul\x00 Ltd"},
            {"id": str(uuid.uuid4()), "name": "Nobody Ltd"},
            {"id": "not-an-id", "name": "Nobody Ltd"},
        )
    ]

    assert [answer["__typename"] for answer in answers] == [
        "ValidationFailed",
        "ValidationFailed",
        "ValidationFailed",
        "NotFound",
        "NotFound",
    ]
    assert [answer["fields"] for answer in answers[:3]] == [
        [{"field": "name", "code": "length"}],
        [{"field": "name", "code": "length"}],
        [{"field": "name", "code": "nul_character"}],
    ]
