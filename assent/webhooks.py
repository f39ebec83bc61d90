"""Webhooks, from a lab's side: endpoints registered through the client, and the check a
receiver runs on each request before believing it.

    from assent.webhooks import WebhookVerifier, WebhookRejected

    verifier = WebhookVerifier(secret)  # the `whsec_...` shown when the endpoint was made

    def receive(body: bytes, headers: dict[str, str]) -> None:
        try:
            event = verifier.verify(body, headers)
        except WebhookRejected:
            return  # answer 400: not from Assent, altered, or too old
        if event.type == "licence.refunded":
            stop_using(event.data["licence_id"])

Pass the body exactly as received. The signature, the message id and the timestamp are
checked by the Standard Webhooks reference library (`standardwebhooks`), which refuses a
message more than five minutes from now either way, so a captured one cannot be
replayed later. Deliveries are at least once: keep `event.id` to drop a repeat.
"""

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from assent.wire import GraphQLWire
from services.contracts.webhooks import WebhookEndpointCreated, WebhookEventType


class WebhookRejected(Exception):
    """The request is not a message Assent signed with this secret, or not a recent one."""


class WebhookEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    """The `webhook-id`: the same on every attempt to deliver this message."""
    type: WebhookEventType
    timestamp: AwareDatetime
    data: dict[str, Any]


class WebhookVerifier:
    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        try:
            payload = self._webhook.verify(body, dict(headers))
        except WebhookVerificationError as exc:
            raise WebhookRejected(str(exc)) from exc
        message_id = {key.lower(): value for key, value in headers.items()}["webhook-id"]
        try:
            return WebhookEvent.model_validate({**payload, "id": message_id})
        except ValidationError as exc:
            raise WebhookRejected(f"a signed body this client does not understand: {exc}") from exc


_ENDPOINT = "endpoint { id url description eventTypes createdAt secretRotatedAt }"
CREATE = f"""mutation($url: String!, $description: String!, $types: [WebhookEventType!]) {{
  createWebhookEndpoint(url: $url, description: $description, eventTypes: $types) {{
  __typename ... on WebhookEndpointCreated {{ secret {_ENDPOINT} }} ... on Error {{ message }}
  ... on ValidationFailed {{ fields {{ field message code }} }} ... on Conflict {{ code }} }} }}"""
DELETE = """mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename
  ... on WebhookEndpointDeleted { id } ... on Error { message } } }"""


def _created(node: dict[str, Any]) -> WebhookEndpointCreated:
    endpoint = node["endpoint"]
    return WebhookEndpointCreated.model_validate(
        {
            "secret": node["secret"],
            "endpoint": {
                "id": endpoint["id"],
                "url": endpoint["url"],
                "description": endpoint["description"],
                "event_types": [WebhookEventType[name] for name in endpoint["eventTypes"]],
                "created_at": endpoint["createdAt"],
                "secret_rotated_at": endpoint["secretRotatedAt"],
            },
        }
    )


class WebhookEndpoints:
    """`AssentClient.webhooks`: the account's endpoints."""

    def __init__(self, wire: GraphQLWire) -> None:
        self._wire = wire

    def create(
        self, url: str, *, description: str = "", event_types: list[str] | None = None
    ) -> WebhookEndpointCreated:
        """Registers an endpoint; keep the answer's `secret` (shown this once) for
        `WebhookVerifier`. Not retried: a repeat would register a second endpoint."""
        types = [WebhookEventType(kind).name for kind in event_types] if event_types else None
        variables = {"url": url, "description": description, "types": types}
        node = self._wire.ask(
            CREATE, variables, "createWebhookEndpoint", "WebhookEndpointCreated", retry=False
        )
        return _created(node)

    def delete(self, endpoint_id: str | uuid.UUID) -> None:
        self._wire.ask(
            DELETE,
            {"id": str(endpoint_id)},
            "deleteWebhookEndpoint",
            "WebhookEndpointDeleted",
            retry=True,
        )
