"""Labs' webhook endpoints, and the messages written for them beside the change each
announces (the same transaction: a message exists exactly when its change committed)."""

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.webhooks import (
    MAX_ENDPOINTS_PER_ACCOUNT,
    MessageStatus,
    WebhookAttemptRead,
    WebhookBody,
    WebhookEndpointCreated,
    WebhookEndpointIn,
    WebhookEndpointRead,
    WebhookEventType,
    WebhookMessageRead,
)
from services.delivery.webhook.addresses import WebhookResolver, check_url
from services.delivery.webhook.models import WebhookEndpoint
from services.delivery.webhook.repository import (
    EndpointRepository,
    HolderRepository,
    MessageRepository,
)
from services.delivery.webhook.secrets import endpoint_secret
from services.kit.db import utcnow
from services.kit.errors import Conflict, Forbidden, NotFound
from services.kit.internal_token import Caller

log = structlog.get_logger()

MESSAGES_LISTED = 50
EXPIRING_PER_PASS = 500


def _owner(caller: Caller) -> uuid.UUID:
    account = caller.account_id
    if account is None:
        raise Forbidden("only an account has webhook endpoints")
    return account


def _read(endpoint: WebhookEndpoint) -> WebhookEndpointRead:
    return WebhookEndpointRead.model_validate(endpoint)


class WebhookService:
    async def create(
        self,
        session: AsyncSession,
        caller: Caller,
        endpoint_in: WebhookEndpointIn,
        *,
        master: SecretStr,
        resolver: WebhookResolver,
    ) -> WebhookEndpointCreated:
        owner = _owner(caller)
        await check_url(endpoint_in.url, resolver)
        repository = EndpointRepository(session)
        if await repository.count_of(owner) >= MAX_ENDPOINTS_PER_ACCOUNT:
            raise Conflict(f"an account has at most {MAX_ENDPOINTS_PER_ACCOUNT} endpoints")
        endpoint = WebhookEndpoint(
            id=uuid.uuid4(),
            account_id=owner,
            url=endpoint_in.url,
            description=endpoint_in.description,
            event_types=sorted(set(endpoint_in.event_types)),
            generation=1,
            created_at=utcnow(),
            secret_rotated_at=None,
            deleted_at=None,
        )
        await repository.create(endpoint)
        log.info("webhook.endpoint.created", endpoint_id=str(endpoint.id))
        return WebhookEndpointCreated(
            endpoint=_read(endpoint), secret=endpoint_secret(master, endpoint.id, 1)
        )

    async def endpoints(self, session: AsyncSession, caller: Caller) -> list[WebhookEndpointRead]:
        return [_read(e) for e in await EndpointRepository(session).of_account(_owner(caller))]

    async def _own(
        self, session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID
    ) -> WebhookEndpoint:
        endpoint = await EndpointRepository(session).get(endpoint_id)
        # Another account's endpoint is answered as one that does not exist.
        if (
            endpoint is None
            or endpoint.deleted_at is not None
            or endpoint.account_id != _owner(caller)
        ):
            raise NotFound("no such webhook endpoint")
        return endpoint

    async def delete(self, session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID) -> None:
        """Nothing more is sent to it; its messages and attempts stay readable by no one
        but the log of what was sent."""
        endpoint = await self._own(session, caller, endpoint_id)
        endpoint.deleted_at = utcnow()
        await session.flush()

    async def rotate(
        self, session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID, *, master: SecretStr
    ) -> WebhookEndpointCreated:
        """A new secret, shown once; messages are signed with it from now on."""
        endpoint = await self._own(session, caller, endpoint_id)
        endpoint.generation += 1
        endpoint.secret_rotated_at = utcnow()
        await session.flush()
        secret = endpoint_secret(master, endpoint.id, endpoint.generation)
        return WebhookEndpointCreated(endpoint=_read(endpoint), secret=secret)

    async def messages(
        self, session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID
    ) -> list[WebhookMessageRead]:
        """The endpoint's latest messages with every attempt of each."""
        endpoint = await self._own(session, caller, endpoint_id)
        repository = MessageRepository(session)
        messages = await repository.of_endpoint(endpoint.id, limit=MESSAGES_LISTED)
        attempts = await repository.attempts_of([message.id for message in messages])
        return [
            WebhookMessageRead(
                id=message.id,
                endpoint_id=message.endpoint_id,
                event_type=WebhookEventType(message.event_type),
                status=MessageStatus(message.status),
                created_at=message.created_at,
                next_attempt_at=(
                    message.next_attempt_at if message.status == MessageStatus.PENDING else None
                ),
                delivered_at=message.delivered_at,
                attempts=[WebhookAttemptRead.model_validate(a) for a in attempts[message.id]],
            )
            for message in messages
        ]

    async def enqueue(
        self,
        session: AsyncSession,
        account_id: uuid.UUID,
        event_type: WebhookEventType,
        data: Mapping[str, Any],
    ) -> int:
        """A message to each of the account's endpoints that takes this event type."""
        endpoints = await EndpointRepository(session).of_account(account_id)
        now = utcnow()
        body = WebhookBody(type=event_type, timestamp=now, data=dict(data)).model_dump(mode="json")
        rows = [
            {
                "id": f"msg_{uuid.uuid4().hex}",
                "endpoint_id": endpoint.id,
                "event_type": event_type.value,
                "body": body,
                "status": MessageStatus.PENDING.value,
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
                "delivered_at": None,
            }
            for endpoint in endpoints
            if not endpoint.event_types or event_type in endpoint.event_types
        ]
        await MessageRepository(session).add_all(rows)
        return len(rows)

    async def enqueue_to_holders(
        self,
        session: AsyncSession,
        work_id: uuid.UUID,
        event_type: WebhookEventType,
        data: Mapping[str, Any],
    ) -> int:
        """A message about a work to each lab holding a licence of it still in force,
        naming that lab's licences of it."""
        licences: dict[uuid.UUID, list[str]] = {}
        for buyer_id, licence_id in await HolderRepository(session).holders_of(work_id):
            licences.setdefault(buyer_id, []).append(str(licence_id))
        sent = 0
        for buyer_id, held in licences.items():
            sent += await self.enqueue(session, buyer_id, event_type, {**data, "licence_ids": held})
        return sent

    async def announce_expiring(
        self, session: AsyncSession, *, within: timedelta, now: datetime | None = None
    ) -> int:
        """`licence.expiring` once per licence, when a line of it ends within `within`."""
        now = now or utcnow()
        found = await HolderRepository(session).expiring(now, now + within, limit=EXPIRING_PER_PASS)
        for licence, ends_at in found:
            licence.expiring_notified_at = now
            await self.enqueue(
                session,
                licence.buyer_id,
                WebhookEventType.LICENCE_EXPIRING,
                {"licence_id": str(licence.id), "ends_at": ends_at.isoformat()},
            )
        await session.flush()
        return len(found)


webhook_service = WebhookService()
