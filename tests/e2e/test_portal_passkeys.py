"""A creator signed in with her email adds a passkey in headless Chromium, whose virtual
authenticator (through the DevTools protocol) stands for a laptop's screen lock; she signs
out and back in with the passkey alone, against the whole stack, then removes it, after
which it signs no one in. The portal opened by its IP address sends her to localhost,
where passkeys live for a portal on this machine.

The portal is opened at localhost: an IP address cannot hold passkeys, and localhost is
a secure context without HTTPS."""

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, CDPSession, Page, expect

from tests.e2e.browser import WAIT_MS, Traffic, assert_accessible, screenshot
from tests.fixtures.smtp import MailServer, text_of
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

PASSWORD = "seven long words of mine"


@pytest.fixture
async def on_localhost(
    browser: Browser, running_stack: RunningStack
) -> AsyncIterator[tuple[Page, CDPSession, str]]:
    """The portal at localhost, with a virtual platform authenticator that verifies its
    user (as a fingerprint or a PIN would) and keeps discoverable credentials."""
    port = urlsplit(running_stack.stack.gateway_url).port
    context: BrowserContext = await browser.new_context(
        base_url=f"http://localhost:{port}", viewport={"width": 1100, "height": 900}
    )
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    devtools = await context.new_cdp_session(page)
    await devtools.send("WebAuthn.enable")
    added = await devtools.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    await page.goto("/portal/")
    yield page, devtools, added["authenticatorId"]
    await context.close()
    assert not errors, f"the page raised: {errors}"


async def _verified_creator(running_stack: RunningStack, smtp: MailServer, email: str) -> None:
    """An account signed up and verified as the mail's link would, outside the browser."""
    async with httpx.AsyncClient(base_url=running_stack.stack.gateway_url) as web:
        body = {"name": "Mira Okonkwo", "email": email, "password": PASSWORD}
        assert (await web.post("/auth/sign-up", json=body)).status_code == 202
        mail = await asyncio.to_thread(smtp.wait_for, email, "#verify/")
        token = re.search(r"#verify/(\S+)", text_of(mail))
        assert token is not None
        verified = await web.post("/auth/verify", json={"token": token.group(1)})
        assert verified.status_code == 200, verified.text


async def test_a_creator_adds_a_passkey_and_signs_in_with_it_alone(
    on_localhost: tuple[Page, CDPSession, str], running_stack: RunningStack, smtp_server: MailServer
) -> None:
    page, devtools, authenticator = on_localhost
    email = f"mira-{secrets.token_hex(4)}@illustration.example"
    await _verified_creator(running_stack, smtp_server, email)

    await page.locator("#sign-in-email").fill(email)
    await page.locator("#sign-in-password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in with email").click()
    await expect(page.get_by_role("status")).to_have_text("Signed in as Mira Okonkwo.")
    await expect(page.get_by_text("No passkeys yet.")).to_be_visible()

    await page.get_by_label("Name of the device or key the passkey is on").fill("Studio laptop")
    await page.get_by_role("button", name="Add a passkey").click()
    await expect(page.get_by_role("status")).to_contain_text("“Studio laptop” is added")
    row = page.locator("#passkeys-table tbody tr", has_text="Studio laptop")
    await expect(row).to_contain_text("Never used")
    await screenshot(page, "20-passkey-added")
    await assert_accessible(page, "20-passkey-added")
    held = await devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    [credential] = held["credentials"]
    assert credential["isResidentCredential"]
    assert credential["rpId"] == "localhost"

    await page.get_by_role("button", name="Sign out", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("Signed out.")
    await page.get_by_role("button", name="Sign in with a passkey").click()
    await expect(page.get_by_role("status")).to_have_text("Signed in as Mira Okonkwo.")
    await expect(row).to_contain_text("Used ")
    # A reload keeps the passkey's session, as it keeps a password's.
    await page.reload()
    await expect(page.locator("#account-name")).to_have_text("Mira Okonkwo")

    await row.get_by_role("button", name="Remove Studio laptop").click()
    await expect(page.get_by_role("status")).to_contain_text("“Studio laptop” is removed")
    await expect(page.get_by_text("No passkeys yet.")).to_be_visible()
    await page.get_by_role("button", name="Sign out", exact=True).click()
    # The authenticator still holds the passkey; the marketplace no longer knows it.
    await page.get_by_role("button", name="Sign in with a passkey").click()
    await expect(page.get_by_role("alert")).to_contain_text("this passkey is not registered here")
    await expect(page.locator("#sign-in-section")).to_be_visible()


async def test_the_portal_at_its_ip_address_sends_a_person_to_localhost_for_passkeys(
    portal: tuple[Page, Traffic], running_stack: RunningStack
) -> None:
    page, _ = portal
    port = urlsplit(running_stack.stack.gateway_url).port

    await page.get_by_role("button", name="Sign in with a passkey").click()

    await expect(page.get_by_role("alert")).to_contain_text(
        f"Passkeys work on this marketplace at http://localhost:{port}/portal/"
    )
