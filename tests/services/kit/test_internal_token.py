import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
)
from fastapi import FastAPI

from services.contracts.roles import Role
from services.kit import internal_token
from services.kit.errors import Unauthenticated, install_error_handlers
from services.kit.internal_token import (
    CLOCK_LEEWAY,
    TOKEN_LIFETIME,
    TOKEN_REUSE,
    Caller,
    CurrentCaller,
    TokenSigner,
    TokenVerifier,
    require_role,
)

KEY = Ed25519PrivateKey.generate()
# The gateway's key in another deployment.
OTHER_KEY = Ed25519PrivateKey.generate()


def _signer(key: Ed25519PrivateKey = KEY) -> TokenSigner:
    return TokenSigner(key, issuer="gateway")


def _verifier(audience: str) -> TokenVerifier:
    return TokenVerifier({"gateway": KEY.public_key()}, audience=audience)


def _claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": "gateway",
        "sub": "account:1",
        "aud": "catalogue",
        "roles": ["buyer"],
        "iat": now,
        "exp": now + timedelta(seconds=60),
    }
    claims.update(overrides)
    return claims


def _refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as refused:
        verifier.verify(token)
    return refused.value.detail


def test_signed_token_verifies_for_its_audience() -> None:
    token = _signer().sign(
        subject="account:42", roles=frozenset({Role.CREATOR, Role.BUYER}), audience="catalogue"
    )

    caller = _verifier("catalogue").verify(token)

    assert caller.subject == "account:42"
    assert caller.roles == {Role.CREATOR, Role.BUYER}
    assert caller.issuer == "gateway"
    assert caller.has(Role.BUYER)
    assert not caller.has(Role.ADMIN)


def test_token_lives_one_minute_and_names_one_audience() -> None:
    token = _signer().sign(subject="account:42", roles=frozenset(), audience="licensing")

    claims = jwt.decode(token, options={"verify_signature": False})

    assert claims["aud"] == "licensing"
    assert 55 <= claims["exp"] - claims["iat"] <= 65
    assert claims["jti"]


def test_token_for_another_service_is_refused() -> None:
    token = _signer().sign(subject="account:42", roles=frozenset(), audience="licensing")

    detail = _refusal(_verifier("catalogue"), token)

    assert detail == "the internal token is for another service"


def test_expired_token_is_refused() -> None:
    past = datetime.now(UTC) - timedelta(minutes=5)
    token = jwt.encode(_claims(iat=past, exp=past + timedelta(seconds=60)), KEY, algorithm="EdDSA")

    detail = _refusal(_verifier("catalogue"), token)

    assert detail == "the internal token has expired"


def test_token_just_past_expiry_is_accepted_within_the_clock_leeway() -> None:
    now = datetime.now(UTC)
    token = jwt.encode(
        _claims(iat=now - timedelta(seconds=62), exp=now - timedelta(seconds=2)),
        KEY,
        algorithm="EdDSA",
    )

    assert _verifier("catalogue").verify(token).subject == "account:1"


def test_token_expired_beyond_the_leeway_is_refused() -> None:
    now = datetime.now(UTC)
    token = jwt.encode(
        _claims(iat=now - timedelta(seconds=70), exp=now - timedelta(seconds=10)),
        KEY,
        algorithm="EdDSA",
    )

    assert _refusal(_verifier("catalogue"), token) == ("the internal token has expired")


def test_token_living_longer_than_a_signer_issues_is_refused() -> None:
    now = datetime.now(UTC)
    token = jwt.encode(_claims(iat=now, exp=now + timedelta(hours=4)), KEY, algorithm="EdDSA")

    assert _refusal(_verifier("catalogue"), token) == (
        "the internal token lives longer than a signer issues them"
    )


def test_token_living_a_minute_plus_the_clock_leeway_is_accepted() -> None:
    now = datetime.now(UTC)
    token = jwt.encode(
        _claims(iat=now - timedelta(seconds=1), exp=now + timedelta(seconds=64)),
        KEY,
        algorithm="EdDSA",
    )

    assert _verifier("catalogue").verify(token).subject == "account:1"


def test_token_signed_with_another_deployments_key_is_refused() -> None:
    token = _signer(OTHER_KEY).sign(
        subject="account:42", roles=frozenset({Role.ADMIN}), audience="catalogue"
    )

    detail = _refusal(_verifier("catalogue"), token)

    assert detail == "the internal token is not valid"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Moves the clock that signer, verifier and PyJWT read forward by the given time."""
    ahead = timedelta()

    class Later(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> "Later":
            moment = datetime.now(tz) + ahead
            return cls.fromtimestamp(moment.timestamp(), tz)

    monkeypatch.setattr(internal_token, "datetime", Later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", Later)

    def advance(by: timedelta) -> None:
        nonlocal ahead
        ahead += by

    return advance


def test_a_verified_token_is_refused_once_expired(clock: Callable[[timedelta], None]) -> None:
    verifier = _verifier("catalogue")
    token = _signer().sign(subject="account:42", roles=frozenset(), audience="catalogue")
    assert verifier.verify(token).subject == "account:42"

    clock(TOKEN_LIFETIME - timedelta(seconds=1))
    assert verifier.verify(token).subject == "account:42"
    clock(timedelta(seconds=1) + CLOCK_LEEWAY + timedelta(seconds=1))

    assert _refusal(verifier, token) == "the internal token has expired"


def test_a_verified_token_answers_as_its_own_caller_only() -> None:
    verifier = _verifier("catalogue")
    signer = _signer()
    admin = signer.sign(subject="account:1", roles=frozenset({Role.ADMIN}), audience="catalogue")
    buyer = signer.sign(subject="account:2", roles=frozenset({Role.BUYER}), audience="catalogue")
    verifier.verify(admin)

    as_buyer = verifier.verify(buyer)
    # The admin's signature on the buyer's claims: a token never verified as it is.
    header, _, signature = admin.split(".")
    forged = ".".join([header, buyer.split(".")[1], signature])

    assert (as_buyer.subject, as_buyer.roles) == ("account:2", frozenset({Role.BUYER}))
    assert _refusal(verifier, forged) == "the internal token is not valid"
    assert verifier.verify(admin).roles == {Role.ADMIN}


def test_a_verifier_remembers_a_bounded_number_of_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(internal_token, "REMEMBERED_TOKENS", 3)
    verifier = _verifier("catalogue")
    tokens = [
        _signer().sign(subject=f"account:{n}", roles=frozenset(), audience="catalogue")
        for n in range(10)
    ]

    callers = [verifier.verify(token).subject for token in tokens + tokens]

    assert callers == [f"account:{n}" for n in range(10)] * 2
    assert len(verifier._verified) == 3


def test_a_signer_sends_the_same_token_again_only_for_the_same_call_while_fresh(
    clock: Callable[[timedelta], None],
) -> None:
    signer = _signer()
    verifier = _verifier("catalogue")
    call: dict[str, Any] = {
        "subject": "account:42",
        "roles": frozenset({Role.BUYER}),
        "audience": "catalogue",
        "name": "Ada",
    }
    first = signer.sign(**call)
    others = [
        signer.sign(**{**call, "subject": "account:43"}),
        signer.sign(**{**call, "roles": frozenset({Role.BUYER, Role.ADMIN})}),
        signer.sign(**{**call, "name": "Eve"}),
        signer.sign(**{**call, "name": None}),
        signer.sign(**{**call, "audience": "licensing"}),
    ]

    clock(TOKEN_REUSE - timedelta(seconds=1))
    again = signer.sign(**call)
    clock(timedelta(seconds=1))
    renewed = signer.sign(**call)

    assert again == first
    assert len({first, renewed, *others}) == 7
    claims = jwt.decode(again, options={"verify_signature": False})
    assert (
        claims["exp"] - datetime.now(UTC).timestamp()
        >= (TOKEN_LIFETIME - TOKEN_REUSE).total_seconds() - 1
    )
    caller = verifier.verify(again)
    assert (caller.subject, caller.roles, caller.name) == (
        "account:42",
        frozenset({Role.BUYER}),
        "Ada",
    )


def test_a_signer_does_not_send_a_token_issued_after_the_clock_went_back(
    clock: Callable[[timedelta], None],
) -> None:
    clock(timedelta(minutes=5))
    signer = _signer()
    ahead = signer.sign(subject="account:42", roles=frozenset(), audience="catalogue")
    clock(timedelta(minutes=-5))

    assert signer.sign(subject="account:42", roles=frozenset(), audience="catalogue") != ahead


def test_a_signer_remembers_a_bounded_number_of_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(internal_token, "REMEMBERED_TOKENS", 3)
    signer = _signer()

    for n in range(10):
        signer.sign(subject=f"account:{n}", roles=frozenset(), audience="catalogue")

    assert len(signer._signed) == 3


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_token_with_escalated_roles_is_refused() -> None:
    token = _signer().sign(subject="account:42", roles=frozenset({Role.BUYER}), audience="audit")
    header, payload, signature = token.split(".")
    claims = json.loads(_unb64(payload))
    claims["roles"] = ["admin"]
    tampered = ".".join([header, _b64(json.dumps(claims).encode()), signature])

    detail = _refusal(_verifier("audit"), tampered)

    assert detail == "the internal token is not valid"


def test_unsigned_token_is_refused() -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    claims = _claims(roles=["admin"])
    claims["iat"] = int(claims["iat"].timestamp())
    claims["exp"] = int(claims["exp"].timestamp())
    unsigned = f"{header}.{_b64(json.dumps(claims).encode())}."

    assert _refusal(_verifier("catalogue"), unsigned) == ("the internal token is not valid")


@pytest.mark.parametrize("missing", ["exp", "sub", "iss", "aud", "iat"])
def test_token_without_a_required_claim_is_refused(missing: str) -> None:
    claims = _claims()
    del claims[missing]
    token = jwt.encode(claims, KEY, algorithm="EdDSA")

    _refusal(_verifier("catalogue"), token)


def test_token_with_an_unknown_role_is_refused() -> None:
    token = jwt.encode(_claims(roles=["superuser"]), KEY, algorithm="EdDSA")

    assert _refusal(_verifier("catalogue"), token) == ("the internal token is not valid")


def test_garbage_is_refused() -> None:
    assert _refusal(_verifier("catalogue"), "not-a-token") == ("the internal token is not valid")


def test_a_token_made_with_another_algorithm_is_refused() -> None:
    # HS256 keyed with the public key, which anyone may read: the classic confusion.
    public = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    token = jwt.encode(_claims(), public, algorithm="HS256")

    assert _refusal(_verifier("catalogue"), token) == "the internal token is not valid"


def _guarded_app() -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = _verifier("catalogue")
    install_error_handlers(app)

    @app.get("/whoami")
    async def whoami(caller: CurrentCaller) -> dict[str, Any]:
        return {"subject": caller.subject, "roles": sorted(caller.roles)}

    @app.get("/admin")
    async def admin(caller: CurrentCaller) -> dict[str, str]:
        require_role(caller, Role.ADMIN)
        return {"subject": caller.subject}

    return app


@pytest.fixture
async def guarded() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_guarded_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://catalogue") as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_endpoint_answers_401_without_a_token(guarded: httpx.AsyncClient) -> None:
    response = await guarded.get("/whoami")

    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthenticated",
        "detail": "an internal token is required",
    }


@pytest.mark.parametrize(
    "authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token-without-scheme"]
)
async def test_endpoint_answers_401_without_a_bearer_token(
    guarded: httpx.AsyncClient, authorization: str
) -> None:
    response = await guarded.get("/whoami", headers={"authorization": authorization})

    assert response.status_code == 401
    assert response.json()["error"] == "Unauthenticated"


async def test_endpoint_answers_401_for_a_token_meant_for_another_service(
    guarded: httpx.AsyncClient,
) -> None:
    token = _signer().sign(subject="account:42", roles=frozenset({Role.ADMIN}), audience="audit")

    response = await guarded.get("/whoami", headers=_bearer(token))

    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthenticated",
        "detail": "the internal token is for another service",
    }


async def test_endpoint_sees_the_verified_caller(guarded: httpx.AsyncClient) -> None:
    token = _signer().sign(
        subject="account:42", roles=frozenset({Role.BUYER}), audience="catalogue"
    )

    response = await guarded.get("/whoami", headers=_bearer(token))

    assert response.status_code == 200
    assert response.json() == {"subject": "account:42", "roles": ["buyer"]}


async def test_endpoint_answers_403_when_the_caller_lacks_the_role(
    guarded: httpx.AsyncClient,
) -> None:
    buyer = _signer().sign(
        subject="account:42", roles=frozenset({Role.BUYER}), audience="catalogue"
    )
    admin = _signer().sign(subject="account:1", roles=frozenset({Role.ADMIN}), audience="catalogue")

    refused = await guarded.get("/admin", headers=_bearer(buyer))
    allowed = await guarded.get("/admin", headers=_bearer(admin))

    assert refused.status_code == 403
    assert refused.json() == {"error": "Forbidden", "detail": "this needs one of the roles: admin"}
    assert allowed.status_code == 200


def test_a_caller_is_an_account_only_when_its_subject_is_an_account_id() -> None:
    account = uuid.uuid4()

    assert Caller(str(account), frozenset({Role.BUYER}), "gateway").account_id == account
    assert Caller("licensing", frozenset({Role.SERVICE}), "licensing").account_id is None


@pytest.mark.parametrize(
    ("roles", "oversees", "sees_everything"),
    [
        ({Role.ADMIN}, True, True),
        ({Role.AUDITOR}, True, True),
        ({Role.SERVICE}, False, True),
        ({Role.BUYER, Role.CREATOR}, False, False),
    ],
)
def test_admins_and_auditors_oversee_and_services_also_see_everything(
    roles: set[Role], oversees: bool, sees_everything: bool
) -> None:
    caller = Caller(str(uuid.uuid4()), frozenset(roles), "gateway")

    assert (caller.oversees, caller.sees_everything) == (oversees, sees_everything)
