"""A co-creator's notifications in the portal, in headless Chromium against the whole
stack: the invitation shows with the unread count beside the section's name, is marked
read, and the mail choice starts with invitations alone and is saved."""

import pytest
from playwright.async_api import Page, expect

from tests.e2e.browser import Traffic, assert_accessible, sign_in
from tests.e2e.marketplace import create_work, register
from tests.e2e.notifications import notified
from tests.fixtures.graphql import GraphQLClient

pytestmark = pytest.mark.stack


async def test_a_co_creator_reads_their_invitation_and_chooses_what_is_mailed(
    portal: tuple[Page, Traffic], gateway: GraphQLClient
) -> None:
    page, _ = portal
    owner_id, owner = await register(gateway, "CREATOR", "Mira Okafor")
    partner_id, partner = await register(gateway, "CREATOR", "Jonas Berg")
    shares = [
        {"creatorId": owner_id, "basisPoints": 7_500},
        {"creatorId": partner_id, "basisPoints": 2_500},
    ]
    await create_work(gateway, owner, b"a shared sketch", title="Tideline", shares=shares)
    await notified(gateway, partner, "INVITATION")

    await sign_in(page, partner)
    bell = page.locator("#notifications-bell")
    await expect(bell).to_have_text("Notifications (1 unread)")
    await expect(page.locator("#notifications-list")).to_contain_text(
        "Mira Okafor invites you to co-create “Tideline” for a 25% share."
    )
    await expect(page.get_by_label("An invitation to co-create")).to_be_checked()
    await expect(page.get_by_label("A sale")).not_to_be_checked()
    await assert_accessible(page, "notifications")

    await page.get_by_role("button", name="Mark all read").click()
    await expect(bell).to_have_text("Notifications")

    await page.get_by_label("A sale").check()
    await page.get_by_role("button", name="Save my choice").click()
    await expect(page.get_by_role("status")).to_contain_text("mailed notifications is saved")
    await page.reload()  # the key stays with the tab: signed in again at once
    await expect(page.get_by_role("status")).to_contain_text("Signed in as")
    await expect(page.get_by_label("A sale")).to_be_checked()
