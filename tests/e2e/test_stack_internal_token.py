"""The internal token on every service of the running stack, beyond the catalogue's status
check in test_stack_accounts: a token the platform's own signer issued is refused once
expired, a token for one service is refused by every other, and neither a forged token
nor a user's token can put an event into a service's intake. And a delivery process taken
over, holding delivery's key alone, cannot pass for the gateway or an admin at licensing."""

import uuid
from datetime import UTC, datetime, tzinfo
from types import SimpleNamespace

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.contracts.events import Topic
from services.contracts.roles import Role
from services.kit import internal_token
from services.kit.internal_token import (
    CLOCK_LEEWAY,
    TOKEN_LIFETIME,
    TokenSigner,
    load_private_key,
    service_subject,
)
from services.stack import SERVICES, Component, internal_signing_key
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

EVERY_ROLE = frozenset({Role.ADMIN, Role.SERVICE})
STATUS = "/v1/status"
EVENTS = "/internal/events/batch"


def _event(topic: Topic = Topic.FILE_DOWNLOADED, source: str = "gateway") -> dict[str, object]:
    """Shaped like a real event, so a refusal can only be about the token."""
    return {
        "events": [
            {
                "id": str(uuid.uuid4()),
                "topic": topic,
                "source": source,
                "occurred_at": datetime.now(UTC).isoformat(),
                "payload": {},
            }
        ]
    }


def _signer(running_stack: RunningStack, issuer: str) -> TokenSigner:
    """What the process `issuer` signs with: its key, from the stack's environment."""
    setting = internal_signing_key(issuer)
    return TokenSigner(
        load_private_key(running_stack.stack.env[setting], setting=setting), issuer=issuer
    )


def _issued_long_ago(signer: TokenSigner, audience: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A token the platform's signer issued as if captured a lifetime (and the clock
    leeway) ago and replayed now."""
    ago = TOKEN_LIFETIME + CLOCK_LEEWAY + CLOCK_LEEWAY

    def then(tz: tzinfo | None = None) -> datetime:
        return datetime.now(tz) - ago

    with monkeypatch.context() as patched:
        patched.setattr(internal_token, "datetime", SimpleNamespace(now=then))
        return signer.sign(subject="replayed", roles=EVERY_ROLE, audience=audience)


async def _answers(http: httpx.AsyncClient, url: str, token: str) -> tuple[int, int, str]:
    """The status check's and the event intake's answers, and why the intake refused."""
    headers = {"authorization": f"Bearer {token}"}
    status = await http.get(url + STATUS, headers=headers)
    events = await http.post(url + EVENTS, json=_event(), headers=headers)
    return status.status_code, events.status_code, events.json().get("detail", "")


@pytest.mark.parametrize("service", SERVICES, ids=[service.name for service in SERVICES])
async def test_a_service_refuses_every_token_not_made_for_it_now(
    running_stack: RunningStack, service: Component, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = _signer(running_stack, "gateway")
    url = running_stack.stack.url(service)
    # Each token, and why the service must refuse it.
    refused = {
        "forged": (
            # The gateway's key of another deployment.
            TokenSigner(Ed25519PrivateKey.generate(), issuer="gateway").sign(
                subject="forger", roles=EVERY_ROLE, audience=service.name
            ),
            "the internal token is not valid",
        ),
        "replayed after expiry": (
            _issued_long_ago(signer, service.name, monkeypatch),
            "the internal token has expired",
        ),
        **{
            f"made for {other.name}": (
                signer.sign(subject="misdirected", roles=EVERY_ROLE, audience=other.name),
                "the internal token is for another service",
            )
            for other in SERVICES
            if other != service
        },
    }

    async with httpx.AsyncClient() as http:
        answers = {name: await _answers(http, url, token) for name, (token, _) in refused.items()}
        as_a_user = signer.sign(
            subject="admin", roles=frozenset({Role.ADMIN}), audience=service.name
        )
        user_answers = await _answers(http, url, as_a_user)
        # The control: the service's own, fresh token is let in (an empty batch is then
        # refused as invalid, so no event is recorded).
        fresh = signer.sign(subject="relay", roles=EVERY_ROLE, audience=service.name)
        empty = await http.post(
            url + EVENTS, json={"events": []}, headers={"authorization": f"Bearer {fresh}"}
        )

    assert answers == {name: (401, 401, reason) for name, (_, reason) in refused.items()}
    # What the gateway signs for an admin reads the status but cannot inject an event.
    assert user_answers == (200, 403, "this needs one of the roles: service")
    assert empty.status_code == 422


def _minted_by_delivery(running_stack: RunningStack, **claims: object) -> str:
    """A token signed with delivery's own key, claiming whatever its taker wishes."""
    setting = internal_signing_key("delivery")
    now = datetime.now(UTC)
    return jwt.encode(
        {
            "iss": "delivery",
            "sub": service_subject("delivery"),
            "aud": "licensing",
            "roles": ["service"],
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            **claims,
        },
        load_private_key(running_stack.stack.env[setting], setting=setting),
        algorithm="EdDSA",
    )


async def test_a_compromised_delivery_cannot_pass_for_the_gateway_or_an_admin(
    running_stack: RunningStack,
) -> None:
    licensing = running_stack.stack.url(SERVICES[1])
    assert SERVICES[1].name == "licensing"
    admin = str(uuid.uuid4())
    # Each token delivery's taker can make, and how licensing answers it at its admin-only
    # status check and its event intake.
    minted = {
        "as the gateway": _minted_by_delivery(
            running_stack, iss="gateway", sub=admin, roles=["admin"]
        ),
        "as an admin": _minted_by_delivery(running_stack, roles=["admin"]),
        "as itself with admin": _minted_by_delivery(running_stack, roles=["service", "admin"]),
        "as an admin's account": _minted_by_delivery(running_stack, sub=admin),
    }
    acting_as_another = (
        403,
        403,
        "a token from delivery may act only as delivery, never for a user",
    )

    async with httpx.AsyncClient() as http:
        answers = {name: await _answers(http, licensing, token) for name, token in minted.items()}
        own = _signer(running_stack, "delivery").sign_as_service(audience="licensing")
        own_status = await http.get(licensing + STATUS, headers={"authorization": f"Bearer {own}"})
        # Its own key posts what delivery publishes, and nothing else.
        headers = {"authorization": f"Bearer {own}"}
        not_its_topic = await http.post(
            licensing + EVENTS, json=_event(Topic.CONSENT_GIVEN, "delivery"), headers=headers
        )
        its_topic = await http.post(licensing + EVENTS, json={"events": []}, headers=headers)
        at_the_catalogue = await http.get(
            running_stack.stack.url(SERVICES[0]) + "/v1/works",
            params={"id": str(uuid.uuid4())},
            headers={
                "authorization": "Bearer "
                + _signer(running_stack, "delivery").sign_as_service(audience="catalogue")
            },
        )

    assert answers == {
        "as the gateway": (401, 401, "the internal token is not valid"),
        "as an admin": acting_as_another,
        "as itself with admin": acting_as_another,
        "as an admin's account": acting_as_another,
    }
    assert (own_status.status_code, own_status.json()["detail"]) == (
        403,
        "only the gateway calls this, on a user's behalf, not delivery",
    )
    assert (not_its_topic.status_code, not_its_topic.json()["detail"]) == (
        403,
        "delivery does not publish consent.given",
    )
    # Let in: an empty batch is then refused as invalid, so no event is recorded.
    assert its_topic.status_code == 422
    # The catalogue neither hears from delivery nor lets it read.
    assert (at_the_catalogue.status_code, at_the_catalogue.json()["detail"]) == (
        401,
        "the internal token's issuer is not one this service accepts",
    )
