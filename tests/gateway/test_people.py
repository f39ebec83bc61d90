"""People sign up, verify their address from the mail (a real SMTP server), sign in to a
session cookie, use GraphQL with it and its CSRF token, sign out, and reset a lost
password; every refusal is typed and changes nothing."""

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.models import Account
from gateway.app import create_app
from tests.fixtures.database import join_test_transaction
from tests.fixtures.smtp import MailServer, text_of
from tests.gateway.conftest import unattached_settings

PASSWORD = "correct horse battery staple"
ME = "{ me { __typename ... on Account { name email roles } ... on Unauthenticated { message } } }"


@pytest.fixture
async def people_app(
    migrated_postgres: str, gateway_session: AsyncSession, smtp_server: MailServer
) -> AsyncIterator[FastAPI]:
    settings = unattached_settings(
        migrated_postgres,
        session_secret=secrets.token_urlsafe(32),
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        sign_in_burst=50,
    )
    app = create_app(settings)
    await join_test_transaction(app, gateway_session)
    yield app
    await app.state.engine.dispose()
    await app.state.http.aclose()


@pytest.fixture
async def browser(people_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A browser's cookie jar, on the gateway's HTTPS address."""
    transport = httpx.ASGITransport(app=people_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://gateway") as client:
        yield client


def _address() -> str:
    return f"ines-{secrets.token_hex(4)}@studio.example"


async def _link(app: FastAPI, smtp: MailServer, email: str, purpose: str) -> str:
    await app.state.link_mailer.send_due()
    mail = await asyncio.to_thread(smtp.wait_for, email, f"#{purpose}/")
    found = re.search(rf"#{purpose}/(\S+)", text_of(mail))
    assert found is not None, text_of(mail)
    return found.group(1)


async def _signed_up(
    browser: httpx.AsyncClient, app: FastAPI, smtp: MailServer, email: str
) -> dict[str, Any]:
    body = {"name": "Ines Duarte", "email": email, "password": PASSWORD}
    answered = await browser.post("/auth/sign-up", json=body)
    assert answered.status_code == 202, answered.text
    token = await _link(app, smtp, email, "verify")
    verified = await browser.post("/auth/verify", json={"token": token})
    assert verified.status_code == 200, verified.text
    signed = await browser.post("/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    session: dict[str, Any] = signed.json()
    return session


async def _me(browser: httpx.AsyncClient, csrf: str | None) -> dict[str, Any]:
    headers = {"x-csrf-token": csrf} if csrf else {}
    answered = await browser.post("/graphql", json={"query": ME}, headers=headers)
    me: dict[str, Any] = answered.json()["data"]["me"]
    return me


async def test_a_person_signs_up_verifies_signs_in_and_uses_graphql_with_the_session(
    people_app: FastAPI, browser: httpx.AsyncClient, smtp_server: MailServer
) -> None:
    email = _address()
    body = {"name": "Ines Duarte", "email": email, "password": PASSWORD}
    await browser.post("/auth/sign-up", json=body)
    before = await browser.post("/auth/sign-in", json={"email": email, "password": PASSWORD})
    token = await _link(people_app, smtp_server, email, "verify")
    await browser.post("/auth/verify", json={"token": token})
    again = await browser.post("/auth/verify", json={"token": token})
    signed = await browser.post("/auth/sign-in", json={"email": email, "password": PASSWORD})
    cookie = signed.headers["set-cookie"]

    assert before.status_code == 401
    assert "verify your email address first" in before.json()["detail"]
    assert again.status_code == 400  # a link works once
    assert signed.status_code == 200, signed.text
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=lax" in cookie
    assert signed.json()["roles"] == ["creator"]
    me = await _me(browser, signed.json()["csrf_token"])
    assert (me["name"], me["email"], me["roles"]) == ("Ines Duarte", email, ["CREATOR"])
    current = await browser.get("/auth/session")
    assert current.json()["csrf_token"] == signed.json()["csrf_token"]


async def test_the_cookie_alone_or_a_forged_csrf_token_does_nothing(
    people_app: FastAPI, browser: httpx.AsyncClient, smtp_server: MailServer
) -> None:
    await _signed_up(browser, people_app, smtp_server, _address())

    without = await _me(browser, None)
    forged = await _me(browser, "A" * 32)
    sign_out = await browser.post("/auth/sign-out")

    assert without["__typename"] == "Unauthenticated"
    assert "CSRF" in without["message"]
    assert forged["__typename"] == "Unauthenticated"
    assert sign_out.status_code == 401


async def test_a_cookie_replayed_after_sign_out_is_refused(
    people_app: FastAPI, browser: httpx.AsyncClient, smtp_server: MailServer
) -> None:
    session = await _signed_up(browser, people_app, smtp_server, _address())
    kept = browser.cookies.get("assent_session")
    assert kept is not None

    out = await browser.post("/auth/sign-out", headers={"x-csrf-token": session["csrf_token"]})
    browser.cookies.clear()
    answered = await browser.post(
        "/graphql",
        json={"query": ME},
        headers={"x-csrf-token": session["csrf_token"], "cookie": f"assent_session={kept}"},
    )
    replayed = answered.json()["data"]["me"]

    assert out.status_code == 204
    assert replayed["__typename"] == "Unauthenticated"
    assert "session has ended" in replayed["message"]


async def test_a_wrong_password_and_an_unknown_address_are_answered_alike(
    people_app: FastAPI, browser: httpx.AsyncClient, smtp_server: MailServer
) -> None:
    email = _address()
    await _signed_up(browser, people_app, smtp_server, email)

    wrong = await browser.post("/auth/sign-in", json={"email": email, "password": "x" * 12})
    unknown = await browser.post("/auth/sign-in", json={"email": _address(), "password": PASSWORD})

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_signing_up_with_a_taken_address_tells_its_owner_not_the_form(
    people_app: FastAPI,
    browser: httpx.AsyncClient,
    smtp_server: MailServer,
    gateway_session: AsyncSession,
) -> None:
    email = _address()
    await _signed_up(browser, people_app, smtp_server, email)
    body = {"name": "Someone Else", "email": email, "password": "another password"}

    taken = await browser.post("/auth/sign-up", json=body)
    fresh = await browser.post("/auth/sign-up", json={**body, "email": _address()})
    await people_app.state.link_mailer.send_due()
    told = await asyncio.to_thread(lambda: [m for m in smtp_server.messages() if m["To"] == email])

    assert taken.status_code == fresh.status_code == 202
    assert taken.json() == fresh.json()
    assert any(m["Subject"] == "Someone tried to sign up with your address" for m in told)
    count = await gateway_session.scalar(
        select(func.count()).select_from(Account).where(Account.email == email)
    )
    assert count == 1


async def test_a_reset_sets_a_new_password_and_ends_every_old_session(
    people_app: FastAPI, browser: httpx.AsyncClient, smtp_server: MailServer
) -> None:
    email = _address()
    old = await _signed_up(browser, people_app, smtp_server, email)
    new_password = "a brand new long password"

    await browser.post("/auth/reset-request", json={"email": email})
    token = await _link(people_app, smtp_server, email, "reset")
    forged = await browser.post(
        "/auth/reset", json={"token": token[:-4] + "AAAA", "password": new_password}
    )
    reset = await browser.post("/auth/reset", json={"token": token, "password": new_password})
    reused = await browser.post(
        "/auth/reset", json={"token": token, "password": "yet another one!"}
    )
    old_session = await _me(browser, old["csrf_token"])
    with_old = await browser.post("/auth/sign-in", json={"email": email, "password": PASSWORD})
    with_new = await browser.post("/auth/sign-in", json={"email": email, "password": new_password})

    assert forged.status_code == 400
    assert forged.json()["fields"][0]["code"] == "invalid_link"
    assert reset.status_code == 200
    assert reused.status_code == 400
    assert old_session["__typename"] == "Unauthenticated"
    assert with_old.status_code == 401
    assert with_new.status_code == 200


async def test_a_short_password_is_explained_in_words(
    people_app: FastAPI, browser: httpx.AsyncClient
) -> None:
    body = {"name": "Ines", "email": _address(), "password": "short"}

    answered = await browser.post("/auth/sign-up", json=body)

    assert answered.status_code == 400
    [field] = answered.json()["fields"]
    assert field["field"] == "password"
    assert "10 to 200 characters" in field["message"]


async def test_sign_in_attempts_are_limited_per_address(
    migrated_postgres: str, gateway_session: AsyncSession
) -> None:
    settings = unattached_settings(
        migrated_postgres, session_secret="s" * 40, sign_in_burst=3, sign_in_every_seconds=60
    )
    app = create_app(settings)
    await join_test_transaction(app, gateway_session)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://gateway") as client:
            answers = [
                await client.post("/auth/sign-in", json={"email": _address(), "password": "x" * 12})
                for _ in range(4)
            ]
    finally:
        await app.state.engine.dispose()
        await app.state.http.aclose()

    assert [answer.status_code for answer in answers] == [401, 401, 401, 429]
    assert "retry-after" in answers[-1].headers
