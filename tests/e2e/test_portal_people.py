"""An illustrator gets into the portal without an API key, in headless Chromium against the
whole stack: signs up, opens the verification link from the mail (a real SMTP server),
signs in with the email and password, makes and revokes an API key for a program, stays
signed in across a reload, and signs out everywhere; a lost password is reset from its mail, and the old one no longer works."""

import asyncio
import re
import secrets

import pytest
from playwright.async_api import Page, expect

from tests.e2e.browser import Traffic, assert_accessible, screenshot
from tests.fixtures.smtp import MailServer, text_of

pytestmark = pytest.mark.stack

PASSWORD = "seven long words of mine"


async def _link(smtp: MailServer, email: str, purpose: str) -> str:
    mail = await asyncio.to_thread(smtp.wait_for, email, f"#{purpose}/")
    found = re.search(rf"(http\S+#{purpose}/\S+)", text_of(mail))
    assert found is not None
    return found.group(1)


async def _sign_in(page: Page, email: str, password: str) -> None:
    await page.locator("#sign-in-email").fill(email)
    await page.locator("#sign-in-password").fill(password)
    await page.get_by_role("button", name="Sign in with email").click()


async def test_an_illustrator_signs_up_verifies_and_signs_in_without_a_key(
    portal: tuple[Page, Traffic], smtp_server: MailServer
) -> None:
    page, _ = portal
    email = f"mira-{secrets.token_hex(4)}@illustration.example"

    await page.get_by_text("New here? Create an account").click()
    await page.get_by_label("Your name, as buyers will see it").fill("Mira Okonkwo")
    await page.locator("#sign-up-email").fill(email)
    await page.locator("#sign-up-password").fill(PASSWORD)
    await page.get_by_role("button", name="Create my account").click()
    await expect(page.get_by_role("status")).to_contain_text("a mail with a link is on its way")
    await screenshot(page, "11-signed-up")
    await assert_accessible(page, "11-signed-up")

    await page.goto(await _link(smtp_server, email, "verify"))
    await expect(page.get_by_role("status")).to_contain_text("Your email address is confirmed")
    await _sign_in(page, email, PASSWORD)
    await expect(page.get_by_role("status")).to_have_text("Signed in as Mira Okonkwo.")
    await expect(page.get_by_text("No works yet")).to_be_visible()

    # A key for a program: shown once, listed by its start, revoked.
    await page.get_by_label("Name of the program the key is for").fill("Nightly backup")
    await page.get_by_role("button", name="Make a key").click()
    await expect(page.locator("#new-key")).to_contain_text("assent_")
    row = page.locator("#keys-table tbody tr", has_text="Nightly backup")
    await expect(row).to_contain_text("Never used")
    await row.get_by_role("button", name="Revoke Nightly backup").click()
    await expect(page.get_by_role("status")).to_contain_text("is revoked")
    await expect(row).to_contain_text("Revoked")

    # A reload keeps the session: the cookie stays, the page asks for its CSRF token again.
    await page.reload()
    await expect(page.locator("#account-name")).to_have_text("Mira Okonkwo")
    await page.get_by_role("button", name="Sign out everywhere").click()
    await expect(page.get_by_role("status")).to_have_text("Signed out on every device.")
    await page.reload()
    await expect(page.locator("#sign-in-section")).to_be_visible()

    # A lost password: the reset link sets a new one, and the old one stops working.
    await page.get_by_text("Forgot your password?").click()
    await page.locator("#forgot-email").fill(email)
    await page.get_by_role("button", name="Mail me a link").click()
    await expect(page.get_by_role("status")).to_contain_text("a mail with a link is on its way")
    await page.goto(await _link(smtp_server, email, "reset"))
    await page.get_by_label("New password").fill("another seven long words")
    await page.get_by_role("button", name="Set my new password").click()
    await expect(page.get_by_role("status")).to_contain_text("Your new password is set")
    await _sign_in(page, email, PASSWORD)
    await expect(page.get_by_role("alert")).to_contain_text("the email or the password is wrong")
    await _sign_in(page, email, "another seven long words")
    await expect(page.get_by_role("status")).to_have_text("Signed in as Mira Okonkwo.")
