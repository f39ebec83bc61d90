"""An owner invites a co-creator by email from the work's page: the same words whether or
not the address has an account, the invitation mailed, and the work off sale."""

import asyncio
import os
import uuid

import pytest
from playwright.async_api import Page, expect

from tests.e2e.browser import Traffic, sign_in
from tests.e2e.marketplace import (
    COMPLETE,
    TRAINING,
    WORK,
    create_work,
    list_for_sale,
    register,
    upload_single,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.smtp import MailServer
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack


async def test_an_owner_invites_a_co_creator_by_email_from_the_works_page(
    portal: tuple[Page, Traffic],
    gateway: GraphQLClient,
    running_stack: RunningStack,
    smtp_server: MailServer,
) -> None:
    page, _ = portal
    _, creator = await register(gateway, "CREATOR", "Ada Lindqvist")
    content = os.urandom(10_000)
    created = await create_work(gateway, creator, content, title="Stairwell mosaic")
    await upload_single(created, content)
    work_id = created["work"]["id"]
    await gateway.execute(COMPLETE, {"id": work_id}, key=creator)
    await list_for_sale(gateway, creator, work_id, price=900, uses=TRAINING)
    address = f"noor-{uuid.uuid4().hex[:6]}@example.org"

    await sign_in(page, creator)
    await page.get_by_role("button", name="Stairwell mosaic").click()
    await page.get_by_label("Their email address").fill(address)
    await page.get_by_label("Their share, in percent").fill("25")
    await page.get_by_role("button", name="Send the invitation").click()

    await expect(page.get_by_role("status")).to_contain_text(
        f"An invitation was sent to {address}."
    )
    await asyncio.to_thread(smtp_server.wait_for, address, "Stairwell mosaic", timeout=60)
    work = (await gateway.execute(WORK, {"id": work_id}, key=creator))["work"]
    assert not work["listed"]
