"""Who may call what: each issuer signs with its own key, a service acts only as itself,
and only the gateway speaks for a user."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from services.contracts.roles import Role
from services.kit.errors import Forbidden, Unauthenticated, install_error_handlers
from services.kit.internal_token import (
    CurrentCaller,
    ReadingCaller,
    TokenSigner,
    TokenVerifier,
    service_subject,
)

KEYS = {name: Ed25519PrivateKey.generate() for name in ("gateway", "licensing", "delivery")}
# A component whose key this service does not hold: it accepts no call of audit's.
AUDIT_KEY = Ed25519PrivateKey.generate()
ADMIN = frozenset({Role.ADMIN})


def _signer(issuer: str, key: Ed25519PrivateKey | None = None) -> TokenSigner:
    return TokenSigner(key or KEYS[issuer], issuer=issuer)


def _verifier() -> TokenVerifier:
    return TokenVerifier(
        {name: key.public_key() for name, key in KEYS.items()},
        audience="licensing",
        readers=frozenset({"delivery"}),
    )


def _refused(token: str) -> tuple[type[Exception], str]:
    with pytest.raises((Unauthenticated, Forbidden)) as refused:
        _verifier().verify(token)
    return type(refused.value), refused.value.detail


def _minted_by_delivery(**claims: Any) -> str:
    """What a delivery process that was taken over can sign: anything, with its own key."""
    now = datetime.now(UTC)
    return jwt.encode(
        {
            "iss": "delivery",
            "sub": service_subject("delivery"),
            "aud": "licensing",
            "roles": ["service"],
            "iat": now,
            "exp": now + timedelta(seconds=60),
            **claims,
        },
        KEYS["delivery"],
        algorithm="EdDSA",
    )


def test_each_issuer_is_verified_with_its_own_key() -> None:
    verifier = _verifier()
    user = _signer("gateway").sign(subject="account:1", roles=ADMIN, audience="licensing")
    service = _signer("delivery").sign_as_service(audience="licensing")

    assert (verifier.verify(user).issuer, verifier.verify(user).roles) == ("gateway", ADMIN)
    caller = verifier.verify(service)
    assert (caller.issuer, caller.subject, caller.roles) == (
        "delivery",
        "service:delivery",
        frozenset({Role.SERVICE}),
    )


def test_delivery_cannot_pass_its_token_off_as_the_gateways() -> None:
    forged = _minted_by_delivery(iss="gateway", sub="account:1", roles=["admin"])

    assert _refused(forged) == (Unauthenticated, "the internal token is not valid")


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": ["admin"]},
        {"roles": ["service", "admin"]},
        {"sub": "account:1", "roles": ["buyer"]},
        {"sub": "account:1"},
        {"sub": "service:gateway"},
    ],
    ids=["admin", "service-and-admin", "a-buyer", "a-users-subject", "another-service"],
)
def test_a_service_token_speaking_for_anyone_but_itself_is_refused(claims: dict[str, Any]) -> None:
    assert _refused(_minted_by_delivery(**claims)) == (
        Forbidden,
        "a token from delivery may act only as delivery, never for a user",
    )


def test_a_token_from_an_issuer_the_service_does_not_accept_is_refused() -> None:
    from_audit = _signer("audit", AUDIT_KEY).sign_as_service(audience="licensing")
    unnamed = _minted_by_delivery(iss="bench")

    for token in (from_audit, unnamed):
        assert _refused(token) == (
            Unauthenticated,
            "the internal token's issuer is not one this service accepts",
        )


def _app() -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = _verifier()
    install_error_handlers(app)

    @app.get("/for-a-user")
    async def for_a_user(caller: CurrentCaller) -> dict[str, str]:
        return {"issuer": caller.issuer}

    @app.get("/read")
    async def read(caller: ReadingCaller) -> dict[str, str]:
        return {"issuer": caller.issuer}

    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://licensing") as client:
        yield client


async def _answer(http: httpx.AsyncClient, path: str, token: str) -> tuple[int, str]:
    response = await http.get(path, headers={"authorization": f"Bearer {token}"})
    body = response.json()
    return response.status_code, body.get("issuer") or body["detail"]


async def test_only_the_gateway_calls_on_a_users_behalf(http: httpx.AsyncClient) -> None:
    gateway = _signer("gateway").sign(subject="account:1", roles=ADMIN, audience="licensing")
    delivery = _signer("delivery").sign_as_service(audience="licensing")

    assert await _answer(http, "/for-a-user", gateway) == (200, "gateway")
    assert await _answer(http, "/for-a-user", delivery) == (
        403,
        "only the gateway calls this, on a user's behalf, not delivery",
    )


async def test_a_read_is_open_to_the_gateway_and_the_named_readers_only(
    http: httpx.AsyncClient,
) -> None:
    gateway = _signer("gateway").sign(subject="account:1", roles=ADMIN, audience="licensing")
    reader = _signer("delivery").sign_as_service(audience="licensing")
    other = _signer("licensing").sign_as_service(audience="licensing")

    assert await _answer(http, "/read", gateway) == (200, "gateway")
    assert await _answer(http, "/read", reader) == (200, "delivery")
    assert await _answer(http, "/read", other) == (403, "licensing may not read from licensing")
