"""A co-creator invited by email, every component in its own process and a real SMTP
server: an address with no account is mailed the invitation, signs up from the mail,
verifies its address, and the invitation is theirs to accept and consent to; only then is
the work for sale. An address that has an account gets the same answer, and the usual
invitation."""

import asyncio
import os
import re
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.marketplace import (
    COMPLETE,
    CONSENT,
    REGISTER,
    TRAINING,
    WORK,
    consent_input,
    create_work,
    list_for_sale,
    upload_single,
)
from tests.e2e.notifications import notified
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.smtp import MailServer, text_of
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

PASSWORD = "a mural by two hands over one summer"
INVITE = """mutation($id: ID!, $email: String!, $points: Int!) {
  inviteCoCreator(workId: $id, email: $email, basisPoints: $points) { __typename
    ... on CoCreatorInvited { message } ... on ValidationFailed { fields { field code } } } }"""
INVITATIONS = """{ invitations { __typename ... on InvitationList {
  items { id status basisPoints workTitle } } } }"""
ACCEPT = """mutation($id: ID!) { acceptInvitation(id: $id) { __typename
  ... on InvitationAnswerRecorded { invitation { status } } } }"""


def _address(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}@example.org"


async def _listed_work(gateway: GraphQLClient, title: str) -> tuple[str, str]:
    """An owner's key, and their work listed for sale with them as its only creator."""
    registered = await gateway.execute(
        REGISTER, {"input": {"name": "Lena Brandt", "email": _address("lena"), "role": "CREATOR"}}
    )
    owner = registered["register"]["apiKey"]["secret"]
    content = os.urandom(20_000)
    created = await create_work(gateway, owner, content, title=title)
    work_id = created["work"]["id"]
    await upload_single(created, content)
    await gateway.execute(COMPLETE, {"id": work_id}, key=owner)
    await list_for_sale(gateway, owner, work_id, price=10_000, uses=TRAINING)
    return owner, work_id


async def _listed(gateway: GraphQLClient, owner: str, work_id: str) -> bool:
    listed: bool = (await gateway.execute(WORK, {"id": work_id}, key=owner))["work"]["listed"]
    return listed


class Browser:
    """A person's browser on the gateway: their session cookie and its CSRF token."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.csrf = ""

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        answered = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"x-csrf-token": self.csrf},
        )
        body = answered.json()
        assert answered.status_code == 200, body
        assert not body.get("errors"), body
        return body["data"]


async def test_an_address_with_no_account_signs_up_from_the_mail_accepts_and_consents(
    gateway: GraphQLClient, running_stack: RunningStack, smtp_server: MailServer
) -> None:
    owner, work_id = await _listed_work(gateway, "Mural over the canal")
    address = _address("mila")

    invited = await gateway.execute(
        INVITE, {"id": work_id, "email": f"  {address.upper()} ", "points": 3_000}, key=owner
    )

    assert invited["inviteCoCreator"] == {
        "__typename": "CoCreatorInvited",
        "message": f"an invitation was sent to {address}",
    }
    assert not await _listed(gateway, owner, work_id)
    mail = await asyncio.to_thread(
        smtp_server.wait_for, address, "invites you to co-create", timeout=60
    )
    assert "“Mural over the canal”" in text_of(mail)
    assert "/portal/#sign-up-details" in text_of(mail)

    async with httpx.AsyncClient(base_url=running_stack.stack.gateway_url, timeout=30) as http:
        browser = Browser(http)
        body = {"name": "Mila Novak", "email": address, "password": PASSWORD}
        assert (await http.post("/auth/sign-up", json=body)).status_code == 202
        verify = await asyncio.to_thread(smtp_server.wait_for, address, "#verify/", timeout=60)
        token = re.search(r"#verify/(\S+)", text_of(verify))
        assert token is not None
        assert (await http.post("/auth/verify", json={"token": token.group(1)})).status_code == 200
        signed = await http.post("/auth/sign-in", json={"email": address, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        browser.csrf = signed.json()["csrf_token"]

        [invitation] = (await browser.execute(INVITATIONS))["invitations"]["items"]
        assert (invitation["status"], invitation["basisPoints"], invitation["workTitle"]) == (
            "PENDING",
            3_000,
            "Mural over the canal",
        )
        accepted = await browser.execute(ACCEPT, {"id": invitation["id"]})
        assert accepted["acceptInvitation"]["invitation"]["status"] == "ACCEPTED"
        assert not await _listed(gateway, owner, work_id)
        consented = await browser.execute(
            CONSENT, {"id": work_id, "input": consent_input(TRAINING)}
        )
        assert consented["giveConsent"]["__typename"] == "ConsentRecorded", consented

    assert await _listed(gateway, owner, work_id)


async def test_an_address_with_an_account_gets_the_same_answer_and_the_invitation(
    gateway: GraphQLClient, running_stack: RunningStack, smtp_server: MailServer
) -> None:
    owner, work_id = await _listed_work(gateway, "Tiles of the old station")
    address = _address("kofi")
    registered = await gateway.execute(
        REGISTER, {"input": {"name": "Kofi Mensah", "email": address, "role": "CREATOR"}}
    )
    partner = registered["register"]["apiKey"]["secret"]

    invited = await gateway.execute(
        INVITE, {"id": work_id, "email": address, "points": 2_500}, key=owner
    )

    assert invited["inviteCoCreator"]["message"] == f"an invitation was sent to {address}"
    [notice] = await notified(gateway, partner, "INVITATION")
    assert "Tiles of the old station" in notice["text"]
    mail = await asyncio.to_thread(
        smtp_server.wait_for, address, "invites you to co-create", timeout=60
    )
    assert "/portal/#works-section" in text_of(mail)
    assert not await _listed(gateway, owner, work_id)
    accepted = await gateway.execute(ACCEPT, {"id": notice["invitationId"]}, key=partner)
    assert accepted["acceptInvitation"]["invitation"]["status"] == "ACCEPTED"
    await gateway.execute(CONSENT, {"id": work_id, "input": consent_input(TRAINING)}, key=partner)
    assert await _listed(gateway, owner, work_id)
