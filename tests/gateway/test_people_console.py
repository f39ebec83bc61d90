"""With no SMTP server (the embedded default), a person's mailed link is written as an
.eml file under the data directory and shown on the console in one line naming the
address and the link, which then works; the password is nowhere in the logs."""

import json
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import create_app
from tests.fixtures.database import join_test_transaction
from tests.gateway.conftest import unattached_settings

PASSWORD = "correct horse battery staple"


@asynccontextmanager
async def _gateway(database_url: str, session: AsyncSession, mail: Path) -> AsyncIterator[FastAPI]:
    """Made inside the test, so its console is the one the test reads."""
    settings = unattached_settings(
        database_url,
        session_secret=secrets.token_urlsafe(32),
        mail_folder=mail,
        portal_url="http://127.0.0.1:8000/portal/",
    )
    app = create_app(settings)
    await join_test_transaction(app, session)
    try:
        yield app
    finally:
        await app.state.engine.dispose()
        await app.state.http.aclose()


def _console(capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The JSON lines the process wrote to its console (stderr)."""
    return [
        json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")
    ]


async def test_a_link_written_as_a_file_is_shown_on_the_console_and_works(
    migrated_postgres: str,
    gateway_session: AsyncSession,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    address = f"ines-{secrets.token_hex(4)}@studio.example"
    async with (
        _gateway(migrated_postgres, gateway_session, tmp_path / "mail") as console_app,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=console_app), base_url="http://127.0.0.1:8000"
        ) as web,
    ):
        body = {"name": "Ines Duarte", "email": address, "password": PASSWORD}
        signed_up = await web.post("/auth/sign-up", json=body)
        sent = await console_app.state.link_mailer.send_due()
        sent_again = await console_app.state.link_mailer.send_due()
        console = _console(capfd)
        [shown] = [line for line in console if line["event"] == "people.mail.written"]
        [written] = (tmp_path / "mail").glob("*.eml")
        mail = message_from_bytes(written.read_bytes(), policy=policy.default)
        token = re.search(r"#verify/(\S+)", shown["link"])
        assert token is not None
        verified = await web.post("/auth/verify", json={"token": token.group(1)})

    assert signed_up.status_code == 202
    assert (sent, sent_again) == (1, 0)  # one mail, written once
    assert shown["to"] == address
    assert shown["link"].startswith("http://127.0.0.1:8000/portal/#verify/")
    assert shown["path"] == str(written)
    assert mail["To"] == address
    assert shown["link"] in mail.get_content()
    assert verified.status_code == 200, verified.text
    assert all(PASSWORD not in str(line) for line in console)
