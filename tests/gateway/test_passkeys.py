"""A person signed in with a password adds a passkey, signs out, and signs in with the
passkey to the same kind of session; a replayed answer, another origin or relying party,
a sign count going backwards, an unknown or removed passkey, a forged CSRF token and a
challenge of another session are each refused in words, and change nothing. The
authenticator is tests/gateway/authenticator.py's, making real answers."""

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.service import account_service
from gateway.app import create_app
from gateway.people.models import Passkey, PasskeyChallenge, PasswordCredential, WebSession
from gateway.people.passkeys import RelyingParty
from services.contracts.roles import Role
from services.kit.db import utcnow
from tests.fixtures.database import join_test_transaction
from tests.gateway.authenticator import PORTAL, Authenticator
from tests.gateway.conftest import unattached_settings

PASSWORD = "correct horse battery staple"
ME = "{ me { __typename ... on Account { name email } ... on Unauthenticated { message } } }"


@pytest.fixture
async def passkey_app(
    migrated_postgres: str, gateway_session: AsyncSession
) -> AsyncIterator[FastAPI]:
    settings = unattached_settings(
        migrated_postgres,
        session_secret=secrets.token_urlsafe(32),
        portal_url=f"{PORTAL}/portal/",
        sign_in_burst=50,
    )
    app = create_app(settings)
    await join_test_transaction(app, gateway_session)
    yield app
    await app.state.engine.dispose()
    await app.state.http.aclose()


async def _browser(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PORTAL)


@pytest.fixture
async def browser(passkey_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with await _browser(passkey_app) as client:
        yield client


async def _person(app: FastAPI, browser: httpx.AsyncClient) -> str:
    """A creator with a verified address, signed in with a password: the CSRF token."""
    email = f"ines-{secrets.token_hex(4)}@studio.example"
    async with app.state.sessionmaker() as session:
        account = await account_service.create_account(
            session, None, name="Ines Duarte", email=email, role=Role.CREATOR
        )
        now = utcnow()
        session.add(
            PasswordCredential(
                account_id=account.id,
                password_hash=PasswordHasher().hash(PASSWORD),
                updated_at=now,
                verified_at=now,
            )
        )
        await session.commit()
    signed = await browser.post("/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    csrf: str = signed.json()["csrf_token"]
    return csrf


async def _add(
    browser: httpx.AsyncClient, csrf: str, authenticator: Authenticator, name: str = "Laptop"
) -> httpx.Response:
    headers = {"x-csrf-token": csrf}
    options = await browser.post("/auth/passkeys/registration-options", headers=headers)
    assert options.status_code == 200, options.text
    credential = authenticator.create(options.json()["options"])
    return await browser.post(
        "/auth/passkeys", json={"name": name, "credential": credential}, headers=headers
    )


async def _sign_in_options(browser: httpx.AsyncClient) -> dict[str, Any]:
    answered = await browser.post("/auth/passkeys/sign-in-options")
    assert answered.status_code == 200, answered.text
    options: dict[str, Any] = answered.json()["options"]
    return options


async def _sign_in(browser: httpx.AsyncClient, authenticator: Authenticator) -> httpx.Response:
    credential = authenticator.get(await _sign_in_options(browser))
    return await browser.post("/auth/passkeys/sign-in", json={"credential": credential})


async def _sign_out(browser: httpx.AsyncClient, csrf: str) -> None:
    out = await browser.post("/auth/sign-out", headers={"x-csrf-token": csrf})
    assert out.status_code == 204, out.text
    browser.cookies.delete("assent_session")


async def _count(app: FastAPI, column: Any) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count(column))) or 0)


async def test_a_person_adds_a_passkey_signs_out_and_signs_in_with_it(
    passkey_app: FastAPI, browser: httpx.AsyncClient
) -> None:
    csrf = await _person(passkey_app, browser)
    authenticator = Authenticator()

    options = (
        await browser.post("/auth/passkeys/registration-options", headers={"x-csrf-token": csrf})
    ).json()["options"]
    added = await browser.post(
        "/auth/passkeys",
        json={"name": "Studio laptop", "credential": authenticator.create(options)},
        headers={"x-csrf-token": csrf},
    )
    await _sign_out(browser, csrf)
    signed = await _sign_in(browser, authenticator)
    new_csrf = signed.json()["csrf_token"]
    me = await browser.post("/graphql", json={"query": ME}, headers={"x-csrf-token": new_csrf})
    listed = await browser.get("/auth/passkeys", headers={"x-csrf-token": new_csrf})

    assert options["rp"] == {"id": "assent.example", "name": "Assent"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert added.status_code == 201, added.text
    assert signed.status_code == 200, signed.text
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=lax" in cookie
    assert signed.json()["name"] == "Ines Duarte"
    assert me.json()["data"]["me"]["name"] == "Ines Duarte"
    [passkey] = listed.json()
    assert passkey["name"] == "Studio laptop"
    assert passkey["transports"] == ["internal", "hybrid"]
    assert passkey["last_used_at"] is not None


async def test_a_replayed_answer_is_refused_and_changes_nothing(
    passkey_app: FastAPI, browser: httpx.AsyncClient
) -> None:
    csrf = await _person(passkey_app, browser)
    authenticator = Authenticator()
    await _add(browser, csrf, authenticator)
    await _sign_out(browser, csrf)
    options = await _sign_in_options(browser)
    credential = authenticator.get(options)
    first = await browser.post("/auth/passkeys/sign-in", json={"credential": credential})
    browser.cookies.delete("assent_session")
    sessions = await _count(passkey_app, WebSession.id)

    again = await browser.post("/auth/passkeys/sign-in", json={"credential": credential})
    # The same answer to a fresh challenge: its challenge is not this one.
    await _sign_in_options(browser)
    replayed = await browser.post("/auth/passkeys/sign-in", json={"credential": credential})

    assert first.status_code == 200, first.text
    assert again.status_code == 400
    assert "answered already" in again.json()["detail"]
    assert replayed.status_code == 401
    assert "challenge" in replayed.json()["detail"]
    assert "assent_session" not in browser.cookies
    assert await _count(passkey_app, WebSession.id) == sessions


async def test_an_answer_after_five_minutes_is_refused(
    passkey_app: FastAPI, browser: httpx.AsyncClient
) -> None:
    csrf = await _person(passkey_app, browser)
    authenticator = Authenticator()
    await _add(browser, csrf, authenticator)
    await _sign_out(browser, csrf)
    options = await _sign_in_options(browser)
    async with passkey_app.state.sessionmaker() as session:
        await session.execute(
            update(PasskeyChallenge).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()

    late = await browser.post(
        "/auth/passkeys/sign-in", json={"credential": authenticator.get(options)}
    )

    assert late.status_code == 400
    assert "too old" in late.json()["detail"]
    assert "assent_session" not in browser.cookies


@pytest.mark.parametrize(
    ("origin", "rp_id", "said"),
    [
        ("https://assent.example.evil", None, "origin"),
        (PORTAL, "evil.example", "RP ID"),
    ],
)
async def test_an_answer_for_another_site_is_refused(
    passkey_app: FastAPI, browser: httpx.AsyncClient, origin: str, rp_id: str | None, said: str
) -> None:
    csrf = await _person(passkey_app, browser)
    honest = Authenticator()
    await _add(browser, csrf, honest)
    phished = Authenticator(origin=origin, rp_id=rp_id)

    refused_add = await _add(browser, csrf, phished)
    await _sign_out(browser, csrf)
    # The registered key, answering a challenge relayed by another site.
    honest.origin, honest.rp_id = origin, rp_id
    refused_sign_in = await _sign_in(browser, honest)

    assert refused_add.status_code == 400
    assert said in refused_add.json()["detail"]
    assert refused_sign_in.status_code == 401
    assert said in refused_sign_in.json()["detail"]
    assert await _count(passkey_app, Passkey.id) == 1


async def test_a_sign_count_going_backwards_is_refused(
    passkey_app: FastAPI, browser: httpx.AsyncClient
) -> None:
    csrf = await _person(passkey_app, browser)
    authenticator = Authenticator()
    await _add(browser, csrf, authenticator)
    await _sign_out(browser, csrf)
    authenticator.sign_count = 10
    ten = await _sign_in(browser, authenticator)
    browser.cookies.delete("assent_session")

    # A copy of the authenticator, its counter behind the original's.
    authenticator.sign_count = 4
    copied = await _sign_in(browser, authenticator)

    assert ten.status_code == 200, ten.text
    assert copied.status_code == 401
    assert "sign count" in copied.json()["detail"]
    async with passkey_app.state.sessionmaker() as session:
        assert await session.scalar(select(Passkey.sign_count)) == 11


async def test_an_unknown_or_removed_passkey_signs_no_one_in(
    passkey_app: FastAPI, browser: httpx.AsyncClient
) -> None:
    csrf = await _person(passkey_app, browser)
    kept, removed = Authenticator(), Authenticator()
    await _add(browser, csrf, kept, "Phone")
    made = await _add(browser, csrf, removed, "Old key")
    headers = {"x-csrf-token": csrf}

    gone = await browser.delete(f"/auth/passkeys/{made.json()['id']}", headers=headers)
    gone_again = await browser.delete(f"/auth/passkeys/{made.json()['id']}", headers=headers)
    listed = await browser.get("/auth/passkeys", headers=headers)
    await _sign_out(browser, csrf)
    stranger = Authenticator()
    stranger.user_handle = kept.user_handle
    unknown = await _sign_in(browser, stranger)
    after_removal = await _sign_in(browser, removed)

    assert gone.status_code == 204
    assert gone_again.status_code == 404
    assert [passkey["name"] for passkey in listed.json()] == ["Phone"]
    for refused in (unknown, after_removal):
        assert refused.status_code == 401
        assert "not registered here" in refused.json()["detail"]
    assert "assent_session" not in browser.cookies


async def test_passkeys_are_managed_only_from_a_session_with_its_csrf_token(
    passkey_app: FastAPI, browser: httpx.AsyncClient
) -> None:
    csrf = await _person(passkey_app, browser)
    authenticator = Authenticator()

    forged = await browser.post(
        "/auth/passkeys/registration-options", headers={"x-csrf-token": "A" * 32}
    )
    listed_forged = await browser.get("/auth/passkeys", headers={"x-csrf-token": "A" * 32})
    # A challenge given to this session, answered from another session of another person.
    options = await browser.post(
        "/auth/passkeys/registration-options", headers={"x-csrf-token": csrf}
    )
    async with await _browser(passkey_app) as other:
        other_csrf = await _person(passkey_app, other)
        other.cookies.set("assent_passkey_challenge", browser.cookies["assent_passkey_challenge"])
        stolen = await other.post(
            "/auth/passkeys",
            json={
                "name": "Not mine",
                "credential": authenticator.create(options.json()["options"]),
            },
            headers={"x-csrf-token": other_csrf},
        )
    kept = browser.cookies["assent_session"]
    await _sign_out(browser, csrf)
    browser.cookies.set("assent_session", kept)
    replayed_cookie = await browser.post(
        "/auth/passkeys/registration-options", headers={"x-csrf-token": csrf}
    )

    assert forged.status_code == 401
    assert "CSRF" in forged.json()["detail"]
    assert listed_forged.status_code == 401
    assert stolen.status_code == 400
    assert "answered already" in stolen.json()["detail"]
    assert replayed_cookie.status_code == 401
    assert await _count(passkey_app, Passkey.id) == 0


async def test_a_malformed_answer_or_a_nameless_passkey_is_explained(
    passkey_app: FastAPI, browser: httpx.AsyncClient
) -> None:
    csrf = await _person(passkey_app, browser)
    headers = {"x-csrf-token": csrf}

    await browser.post("/auth/passkeys/registration-options", headers=headers)
    garbled = await browser.post(
        "/auth/passkeys", json={"name": "Laptop", "credential": {"id": 3}}, headers=headers
    )
    nameless = await _add(browser, csrf, Authenticator(), name="  ")
    no_challenge = await browser.post("/auth/passkeys/sign-in", json={"credential": {}})

    assert garbled.status_code == 400
    assert garbled.json()["fields"][0]["field"] == "credential"
    assert nameless.status_code == 400
    assert nameless.json()["fields"][0]["field"] == "name"
    assert no_challenge.status_code == 400
    assert await _count(passkey_app, Passkey.id) == 0


@pytest.mark.parametrize(
    ("portal_url", "party"),
    [
        (
            "https://assent.example/portal/",
            RelyingParty("assent.example", "https://assent.example"),
        ),
        ("http://127.0.0.1:8000/portal/", RelyingParty("localhost", "http://localhost:8000")),
        ("http://[::1]:8000/portal/", RelyingParty("localhost", "http://localhost:8000")),
        ("http://192.0.2.7/portal/", None),
    ],
)
def test_the_relying_party_is_the_portals_host_and_localhost_stands_for_loopback(
    portal_url: str, party: RelyingParty | None
) -> None:
    assert RelyingParty.of_portal(portal_url) == party


async def test_a_passkey_sign_in_takes_up_waiting_invitations_as_a_password_does(
    passkey_app: FastAPI, browser: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The catalogue is not attached here, so each claim is seen failing, in the log, and
    never in the way: a claim the catalogue could not take at verification waits for the
    next sign-in, whichever way the person signs in."""
    csrf = await _person(passkey_app, browser)
    authenticator = Authenticator()
    added = await _add(browser, csrf, authenticator)
    await _sign_out(browser, csrf)

    caplog.clear()
    signed = await _sign_in(browser, authenticator)
    logged = [record.msg for record in caplog.records if isinstance(record.msg, dict)]

    assert added.status_code == 201, added.text
    assert signed.status_code == 200, signed.text
    claims = [entry for entry in logged if entry["event"] == "co_creator.claim.failed"]
    assert [entry["account_id"] for entry in claims] == [signed.json()["account_id"]]
