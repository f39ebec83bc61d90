"""The lab's webhook verifier: a message signed with the endpoint's secret is believed;
one forged, altered, signed with another secret or too old is rejected."""

import base64
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from assent.webhooks import WebhookRejected, WebhookVerifier

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
BODY = json.dumps(
    {
        "type": "licence.refunded",
        "timestamp": "2026-12-05T10:00:00Z",
        "data": {"licence_id": "9a0ecb07-ec0d-49d1-bdb2-dd622380d03f"},
    }
).encode()


def _headers(secret: str, body: bytes, *, at: datetime | None = None) -> dict[str, str]:
    sent = at or datetime.now(UTC)
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": Webhook(secret).sign("msg_1", sent, body),
    }


def test_a_message_signed_with_the_endpoints_secret_is_believed() -> None:
    event = WebhookVerifier(SECRET).verify(BODY, _headers(SECRET, BODY))

    assert (event.id, event.type, event.data["licence_id"]) == (
        "msg_1",
        "licence.refunded",
        "9a0ecb07-ec0d-49d1-bdb2-dd622380d03f",
    )


def test_forged_altered_or_stale_messages_are_rejected() -> None:
    other = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    verifier = WebhookVerifier(SECRET)
    altered = BODY.replace(b"refunded", b"expiring")
    stale = datetime.now(UTC) - timedelta(minutes=10)
    for body, headers in (
        (BODY, _headers(other, BODY)),
        (altered, _headers(SECRET, BODY)),
        (BODY, _headers(SECRET, BODY, at=stale)),
        (BODY, {}),
    ):
        with pytest.raises(WebhookRejected):
            verifier.verify(body, headers)
