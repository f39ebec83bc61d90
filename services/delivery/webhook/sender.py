"""Sends the webhooks' outbox: each due message POSTed to its endpoint, signed as the
Standard Webhooks specification says (with its reference library), every attempt kept,
failures tried again with jittered exponential backoff until a limit, then given up.

At least once: a message is leased while it is sent, so a sender that dies mid-send
leaves it to be tried again when the lease ends; its `webhook-id` never changes, so a
receiver drops the repeat.
"""

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import structlog
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from services.contracts.webhooks import MessageStatus
from services.delivery.webhook.addresses import WebhookResolver
from services.delivery.webhook.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from services.delivery.webhook.repository import MessageRepository
from services.delivery.webhook.secrets import endpoint_secret
from services.delivery.webhook.service import webhook_service
from services.kit.db import utcnow
from services.kit.worker import PollingWorker

log = structlog.get_logger()

BATCH = 20
EXPIRING_SCAN_SECONDS = 60.0
# An answer's body is never needed; only this much of an error is kept.
ERROR_CHARS = 300


@dataclass(frozen=True)
class SenderSettings:
    master: SecretStr
    allow_private: bool
    timeout_seconds: float
    max_attempts: int
    backoff_seconds: float
    max_backoff_seconds: float
    expiring_within: timedelta
    poll_seconds: float


@dataclass(frozen=True)
class _Outgoing:
    message_id: str
    body: bytes
    url: str | None
    """None once the endpoint is deleted."""
    secret: str


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int
    # Nothing will ever deliver it (its endpoint is gone): no further attempt.
    final: bool = False

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    def __init__(
        self,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        settings: SenderSettings,
    ) -> None:
        """`sessionmaker` is read at each pass, so what a test swaps in is what is used."""
        self._sessions = sessionmaker
        self._settings = settings
        self._http: aiohttp.ClientSession | None = None
        # Licences ending soon are looked for at most this often: ends are days away,
        # and an idle sender should cost the database one small query a poll.
        self._next_expiring_scan = 0.0
        self.worker = PollingWorker(
            self.send_due,
            name="webhook-sender",
            poll_seconds=settings.poll_seconds,
            batch_size=BATCH,
        )

    def wake(self) -> None:
        self.worker.wake()

    async def run(self) -> None:
        async with self.connected():
            await self.worker.run()

    @asynccontextmanager
    async def connected(self) -> AsyncIterator[None]:
        """The HTTP client the messages are sent with, connecting only where the
        resolver allows."""
        connector = aiohttp.TCPConnector(
            resolver=WebhookResolver(allow_private=self._settings.allow_private)
        )
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_seconds)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            self._http = http
            try:
                yield
            finally:
                self._http = None

    async def send_due(self) -> int:
        """One pass: licences ending soon announced, then every message due sent once:
        claimed and read in one transaction, sent in parallel, the outcomes recorded in
        another."""
        lease = timedelta(seconds=self._settings.timeout_seconds * 2 + 5)
        async with self._sessions()() as session, session.begin():
            if time.monotonic() >= self._next_expiring_scan:
                self._next_expiring_scan = time.monotonic() + EXPIRING_SCAN_SECONDS
                await webhook_service.announce_expiring(
                    session, within=self._settings.expiring_within
                )
            ids = await MessageRepository(session).claim_due(utcnow(), limit=BATCH, lease=lease)
            due = [await self._outgoing(session, message_id) for message_id in ids]
        outcomes = await asyncio.gather(*(self._post(outgoing) for outgoing in due))
        async with self._sessions()() as session, session.begin():
            for outgoing, outcome in zip(due, outcomes, strict=True):
                await self._record(session, outgoing.message_id, outcome)
        return len(due)

    async def _outgoing(self, session: AsyncSession, message_id: str) -> "_Outgoing":
        message = await session.get(WebhookMessage, message_id)
        assert message is not None
        endpoint = await session.get(WebhookEndpoint, message.endpoint_id)
        assert endpoint is not None
        return _Outgoing(
            message_id=message.id,
            # The bytes sent are the bytes signed: the stored body as compact JSON.
            body=json.dumps(message.body, separators=(",", ":"), sort_keys=True).encode(),
            url=None if endpoint.deleted_at is not None else endpoint.url,
            secret=endpoint_secret(self._settings.master, endpoint.id, endpoint.generation),
        )

    async def _post(self, outgoing: "_Outgoing") -> _Outcome:
        if outgoing.url is None:
            return _Outcome(None, "the endpoint was deleted", 0, final=True)
        sent_at = utcnow()
        headers = {
            "content-type": "application/json",
            "webhook-id": outgoing.message_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(outgoing.secret).sign(
                outgoing.message_id, sent_at, outgoing.body
            ),
        }
        assert self._http is not None, "send within connected()"
        started = time.monotonic()
        try:
            async with self._http.post(
                outgoing.url, data=outgoing.body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
            error = None if 200 <= status < 300 else f"answered {status}"
            return _Outcome(status, error, _elapsed_ms(started))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            problem = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
            return _Outcome(None, problem, _elapsed_ms(started))

    async def _record(self, session: AsyncSession, message_id: str, outcome: _Outcome) -> None:
        message = await session.get(WebhookMessage, message_id, with_for_update=True)
        assert message is not None
        now = utcnow()
        message.attempts += 1
        session.add(
            WebhookAttempt(
                message_id=message_id,
                attempted_at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
        if outcome.delivered:
            message.status = MessageStatus.DELIVERED
            message.delivered_at = now
            message.next_attempt_at = None
        elif outcome.final or message.attempts >= self._settings.max_attempts:
            message.status = MessageStatus.FAILED
            message.next_attempt_at = None
            log.warning("webhook.message.failed", message_id=message_id, error=outcome.error)
        else:
            message.next_attempt_at = now + timedelta(seconds=self._backoff(message.attempts))

    def _backoff(self, attempts: int) -> float:
        # Full jitter over an exponential ceiling, so an endpoint that was down is not
        # hit by every message at once when it comes back.
        ceiling = min(
            self._settings.max_backoff_seconds, self._settings.backoff_seconds * 2**attempts
        )
        return random.uniform(ceiling / 2, ceiling)


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
