"""Notifications, every component in its own process: a co-creator is notified of their
invitation, in the portal and by mail, accepts it and consents; the owner is told of the
answer; a sale tells each creator their share, once, and mails only the one who opted in;
each person marks only their own read."""

import asyncio
import os
import uuid

import pytest

from tests.e2e.marketplace import (
    COMPLETE,
    CONSENT,
    REGISTER,
    TRAINING,
    buy,
    consent_input,
    create_work,
    delivered,
    funded_buyer,
    list_for_sale,
    quote_for,
    upload_single,
)
from tests.e2e.notifications import MARK_READ, NOTIFICATIONS, notified
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.smtp import MailServer, text_of
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

ACCEPT = """mutation($id: ID!) { acceptInvitation(id: $id) { __typename
  ... on InvitationAnswerRecorded { invitation { status } } } }"""
SETTINGS = """{ notificationSettings { __typename ... on NotificationSettings { mailed } } }"""
SET_SETTINGS = """mutation($mailed: [NotificationKind!]!) {
  setNotificationSettings(mailed: $mailed) { __typename ... on NotificationSettings { mailed } } }"""
PRICE = 10_000


async def _creator(gateway: GraphQLClient, name: str) -> tuple[str, str, str]:
    """A creator's id, key and email address."""
    email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.org"
    data = await gateway.execute(
        REGISTER, {"input": {"name": name, "email": email, "role": "CREATOR"}}
    )
    return data["register"]["account"]["id"], data["register"]["apiKey"]["secret"], email


async def test_co_creators_hear_of_the_invitation_its_answer_and_the_sale(
    gateway: GraphQLClient, running_stack: RunningStack, smtp_server: MailServer
) -> None:
    owner_id, owner, owner_email = await _creator(gateway, "Lena Brandt")
    partner_id, partner, partner_email = await _creator(gateway, "Kofi Mensah")
    shares = [
        {"creatorId": owner_id, "basisPoints": 6_000},
        {"creatorId": partner_id, "basisPoints": 4_000},
    ]
    content = os.urandom(20_000)
    created = await create_work(gateway, owner, content, title="Harbour at dawn", shares=shares)
    work_id = created["work"]["id"]
    await upload_single(created, content)
    await gateway.execute(COMPLETE, {"id": work_id}, key=owner)
    await list_for_sale(gateway, owner, work_id, price=PRICE, uses=TRAINING)

    [invitation] = await notified(gateway, partner, "INVITATION")
    assert invitation["text"] == (
        "Lena Brandt invites you to co-create “Harbour at dawn” for a 40% share."
    )
    # Invitations are mailed unless one opts out: the mail is the invitation itself.
    invited = smtp_server.wait_for(partner_email, "invites you to co-create", timeout=60)
    assert invited["Subject"] == "You are invited to co-create a work on Assent"
    assert "/portal/#works-section" in text_of(invited)
    accepted = await gateway.execute(ACCEPT, {"id": invitation["invitationId"]}, key=partner)
    assert accepted["acceptInvitation"]["invitation"]["status"] == "ACCEPTED", accepted
    consented = await gateway.execute(
        CONSENT, {"id": work_id, "input": consent_input(TRAINING)}, key=partner
    )
    assert consented["giveConsent"]["consent"]["kind"] == "GIVEN", consented
    [answer] = await notified(gateway, owner, "INVITATION_ANSWER")
    assert answer["text"] == "Kofi Mensah accepted your invitation to co-create “Harbour at dawn”."

    # The partner has sales mailed too; the owner keeps the default (invitations only).
    chosen = await gateway.execute(SET_SETTINGS, {"mailed": ["INVITATION", "SALE"]}, key=partner)
    assert chosen["setNotificationSettings"]["mailed"] == ["SALE", "INVITATION"], chosen
    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Estuary Labs", 100_000)
    quote = await quote_for(gateway, lab, [work_id])
    await delivered(gateway, lab, (await buy(gateway, lab, quote["id"]))["id"])

    [owner_sale] = await notified(gateway, owner, "SALE")
    [partner_sale] = await notified(gateway, partner, "SALE")
    # 10,000 less the platform's 15 %, split 60:40.
    assert (owner_sale["amountMinor"], partner_sale["amountMinor"]) == (5_100, 3_400)
    assert partner_sale["text"] == (
        "“Harbour at dawn” licensed: your share is 34.00 EUR after the platform's fee."
    )
    smtp_server.wait_for(partner_email, "“Harbour at dawn” licensed", timeout=60)
    # Delivered at least once, shown once: nothing more arrives, and no sale is mailed to
    # the owner, who did not ask for it.
    await asyncio.sleep(2)
    assert len(await notified(gateway, partner, "SALE", within=0)) == 1
    assert not [
        mail
        for mail in smtp_server.messages()
        if mail["To"] == owner_email and "licensed" in text_of(mail)
    ]
    sale_mails = [
        mail
        for mail in smtp_server.messages()
        if mail["To"] == partner_email and "licensed" in text_of(mail)
    ]
    assert len(sale_mails) == 1

    # The owner cannot mark the partner's notifications read; the partner can.
    unread = (await gateway.execute(NOTIFICATIONS, key=partner))["notifications"]["unread"]
    assert unread == 2
    await gateway.execute(MARK_READ, {"ids": [partner_sale["id"]]}, key=owner)
    assert (await gateway.execute(NOTIFICATIONS, key=partner))["notifications"]["unread"] == 2
    marked = await gateway.execute(MARK_READ, {"ids": [partner_sale["id"]]}, key=partner)
    assert marked["markNotificationsRead"]["unread"] == 1

    assert (await gateway.execute(SETTINGS, key=owner))["notificationSettings"] == {
        "__typename": "NotificationSettings",
        "mailed": ["INVITATION"],
    }
