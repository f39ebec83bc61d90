"""On the embedded default (`assent up`, no SMTP server), a person signing up finds the
link to verify their address on the console `assent up` runs in, once, and it works."""

import asyncio
import json
import re
import secrets

import httpx
import pytest

from tests.e2e.embedded import EmbeddedStack

pytestmark = pytest.mark.stack


async def test_a_sign_up_link_is_printed_on_the_console_and_verifies_the_address(
    embedded_stack: EmbeddedStack,
) -> None:
    address = f"ines-{secrets.token_hex(4)}@studio.example"
    gateway = f"http://127.0.0.1:{embedded_stack.port}"
    async with httpx.AsyncClient(base_url=gateway) as web:
        body = {"name": "Ines Duarte", "email": address, "password": "seven long words of mine"}
        signed_up = await web.post("/auth/sign-up", json=body)
        shown = await asyncio.to_thread(
            embedded_stack.running.wait_for,
            rf"(?=.*people\.mail\.written)(?=.*{re.escape(address)})",
            30,
        )
        line = json.loads(shown.string[shown.string.index("{") :])
        token = line["link"].partition("#verify/")[2]
        verified = await web.post("/auth/verify", json={"token": token})
    # A few of the mailer's one-second polls later, the mail was still written only once.
    await asyncio.sleep(3)
    printed = [
        seen
        for seen in embedded_stack.running.output().splitlines()
        if "people.mail.written" in seen and address in seen
    ]

    assert signed_up.status_code == 202
    assert line["to"] == address
    assert line["link"].startswith(f"{gateway}/portal/#verify/")
    assert verified.status_code == 200, verified.text
    assert len(printed) == 1
