"""The internal token on every service of the running stack, beyond the catalogue's status
check in test_stack_accounts: a token the platform's own signer issued is refused once
expired, a token for one service is refused by every other, and neither a forged token
nor a user's token can put an event into a service's intake."""

import uuid
from datetime import UTC, datetime, tzinfo
from types import SimpleNamespace

import httpx
import pytest

from services.contracts.events import Topic
from services.contracts.roles import Role
from services.kit import internal_token
from services.kit.internal_token import CLOCK_LEEWAY, TOKEN_LIFETIME, TokenSigner
from services.stack import SERVICES, Component
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

EVERY_ROLE = frozenset({Role.ADMIN, Role.SERVICE})
STATUS = "/v1/status"
EVENTS = "/internal/events/batch"


def _event() -> dict[str, object]:
    """Shaped like a real event, so a refusal can only be about the token."""
    return {
        "events": [
            {
                "id": str(uuid.uuid4()),
                "topic": Topic.FILE_DOWNLOADED,
                "source": "gateway",
                "occurred_at": datetime.now(UTC).isoformat(),
                "payload": {},
            }
        ]
    }


def _issued_long_ago(secret: str, audience: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A token the platform's signer issued as if captured a lifetime (and the clock
    leeway) ago and replayed now."""
    ago = TOKEN_LIFETIME + CLOCK_LEEWAY + CLOCK_LEEWAY

    def then(tz: tzinfo | None = None) -> datetime:
        return datetime.now(tz) - ago

    with monkeypatch.context() as patched:
        patched.setattr(internal_token, "datetime", SimpleNamespace(now=then))
        return TokenSigner(secret, issuer="gateway").sign(
            subject="replayed", roles=EVERY_ROLE, audience=audience
        )


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
    secret = running_stack.stack.env["ASSENT_INTERNAL_TOKEN_SECRET"]
    signer = TokenSigner(secret, issuer="gateway")
    url = running_stack.stack.url(service)
    # Each token, and why the service must refuse it.
    refused = {
        "forged": (
            TokenSigner("another-deployment-" + secret, issuer="gateway").sign(
                subject="forger", roles=EVERY_ROLE, audience=service.name
            ),
            "the internal token is not valid",
        ),
        "replayed after expiry": (
            _issued_long_ago(secret, service.name, monkeypatch),
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
