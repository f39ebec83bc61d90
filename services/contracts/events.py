"""Events that cross services through the outbox, and who receives each topic."""

from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator


class Topic(StrEnum):
    ACCOUNT_REGISTERED = "account.registered"
    ACCOUNT_ROLE_GRANTED = "account.role_granted"
    ACCOUNT_IDENTITY_VERIFIED = "account.identity_verified"
    CONSENT_GIVEN = "consent.given"
    CONSENT_REVISED = "consent.revised"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    OFFER_PUBLISHED = "offer.published"
    WORK_WITHDRAWN = "work.withdrawn"
    WORK_VERSION_PUBLISHED = "work.version_published"
    WORK_REVIEWED = "work.reviewed"
    INVITATION_SENT = "invitation.sent"
    INVITATION_ACCEPTED = "invitation.accepted"
    INVITATION_DECLINED = "invitation.declined"
    LICENCE_GRANTED = "licence.granted"
    LICENCE_REFUNDED = "licence.refunded"
    LICENCE_REVOKED = "licence.revoked"
    LEDGER_RECORDED = "ledger.recorded"
    DELIVERY_ISSUED = "delivery.issued"
    FILE_DOWNLOADED = "file.downloaded"
    SALE_SCOPE_RECORDED = "sale_scope.recorded"
    KEY_ROTATED = "key.rotated"
    TRAINING_RECORDED = "training.recorded"
    TRAINING_REFUSED = "training.refused"
    PAYOUT_ACCOUNT_REQUESTED = "payout_account.requested"
    PAYOUT_ACCOUNT_CONFIRMED = "payout_account.confirmed"


SUBSCRIBERS: dict[Topic, tuple[str, ...]] = {
    # The catalogue keeps a directory of creators, so co-creators can be checked; licensing
    # one of accounts, so money is credited only to a buyer that exists.
    Topic.ACCOUNT_REGISTERED: ("catalogue", "licensing", "audit"),
    Topic.ACCOUNT_ROLE_GRANTED: ("catalogue", "licensing", "audit"),
    # Who an account is, bound in the log, where chain exports name their parties from.
    Topic.ACCOUNT_IDENTITY_VERIFIED: ("audit",),
    # Licensing is the seller: it records what each consent or withdrawal leaves for sale,
    # and a sale commits either before or after that record (SALE_SCOPE_RECORDED).
    Topic.CONSENT_GIVEN: ("licensing", "audit"),
    Topic.CONSENT_REVISED: ("licensing", "audit"),
    Topic.CONSENT_WITHDRAWN: ("licensing", "audit"),
    Topic.OFFER_PUBLISHED: ("audit",),
    # Delivery tells the labs holding a licence of the work (webhooks): it is no longer
    # sold, though what they bought stays theirs.
    # The catalogue notifies the work's creators of a withdrawal, a review's outcome, and
    # an invitation and its answer.
    Topic.WORK_WITHDRAWN: ("licensing", "delivery", "audit", "catalogue"),
    # Delivery tells the labs holding a licence of the work that a new file exists.
    Topic.WORK_VERSION_PUBLISHED: ("delivery", "audit"),
    # An admin's decision on a work held as a possible copy is part of the work's chain.
    Topic.WORK_REVIEWED: ("audit", "catalogue"),
    # A co-creator's answer is part of the work's chain.
    Topic.INVITATION_SENT: ("audit", "catalogue"),
    Topic.INVITATION_ACCEPTED: ("audit", "catalogue"),
    Topic.INVITATION_DECLINED: ("audit", "catalogue"),
    Topic.LICENCE_GRANTED: ("delivery", "audit"),
    # Delivery refuses every download of a refunded licence from then on.
    Topic.LICENCE_REFUNDED: ("delivery", "audit"),
    # As a refund, without the money moving back.
    Topic.LICENCE_REVOKED: ("delivery", "audit"),
    # The catalogue tells each creator their net share of a sale, and of a payout's
    # transfer sent, settled or returned, from the ledger's postings.
    Topic.LEDGER_RECORDED: ("audit", "catalogue"),
    # Licensing refunds the lines a delivery had to leave out.
    Topic.DELIVERY_ISSUED: ("licensing", "audit"),
    Topic.FILE_DOWNLOADED: ("audit",),
    Topic.SALE_SCOPE_RECORDED: ("audit",),
    # Every signing key and rotation is evidence: the log keeps the keys' history.
    Topic.KEY_ROTATED: ("audit",),
    # A lab's training receipt, and a run refused by a creator's models cap: evidence in
    # the chains of the licences and works the run named.
    Topic.TRAINING_RECORDED: ("audit",),
    Topic.TRAINING_REFUSED: ("audit",),
    # Where a creator's money goes, and who confirmed it when: in the creator's account chain.
    Topic.PAYOUT_ACCOUNT_REQUESTED: ("audit",),
    Topic.PAYOUT_ACCOUNT_CONFIRMED: ("audit",),
}
"""Receiving services by topic; the outbox writes one delivery row per receiver."""

PUBLISHERS: dict[Topic, str | tuple[str, ...]] = {
    Topic.ACCOUNT_REGISTERED: "gateway",
    Topic.ACCOUNT_ROLE_GRANTED: "gateway",
    Topic.ACCOUNT_IDENTITY_VERIFIED: "gateway",
    Topic.CONSENT_GIVEN: "catalogue",
    Topic.CONSENT_REVISED: "catalogue",
    Topic.CONSENT_WITHDRAWN: "catalogue",
    Topic.OFFER_PUBLISHED: "catalogue",
    Topic.WORK_WITHDRAWN: "catalogue",
    Topic.WORK_VERSION_PUBLISHED: "catalogue",
    Topic.WORK_REVIEWED: "catalogue",
    Topic.INVITATION_SENT: "catalogue",
    Topic.INVITATION_ACCEPTED: "catalogue",
    Topic.INVITATION_DECLINED: "catalogue",
    Topic.LICENCE_GRANTED: "licensing",
    Topic.LICENCE_REFUNDED: "licensing",
    Topic.LICENCE_REVOKED: "licensing",
    Topic.LEDGER_RECORDED: "licensing",
    Topic.SALE_SCOPE_RECORDED: "licensing",
    Topic.DELIVERY_ISSUED: "delivery",
    Topic.FILE_DOWNLOADED: "delivery",
    # Each signing service logs its own keys; the audit log records its own directly.
    Topic.KEY_ROTATED: ("licensing", "delivery"),
    Topic.TRAINING_RECORDED: "licensing",
    Topic.TRAINING_REFUSED: "licensing",
    Topic.PAYOUT_ACCOUNT_REQUESTED: "licensing",
    Topic.PAYOUT_ACCOUNT_CONFIRMED: "licensing",
}
"""The service (or services) that publish each topic through their outbox."""


def receivers_of(publisher: str) -> frozenset[str]:
    """Every service that receives a topic `publisher` publishes: the streams its outbox
    relay runs (a relay polling a receiver it never writes rows for spends a claim
    transaction on every poll for nothing)."""
    return frozenset(
        receiver
        for topic, source in PUBLISHERS.items()
        if publisher in ((source,) if isinstance(source, str) else source)
        for receiver in SUBSCRIBERS[topic]
    )


SAFE_INTEGER = 2**53 - 1
"""The largest integer canonical JSON (RFC 8785) can write: the log refuses others."""


def _within_safe_integers(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -SAFE_INTEGER <= value <= SAFE_INTEGER
    if isinstance(value, dict):
        return all(_within_safe_integers(item) for item in value.values())
    if isinstance(value, list):
        return all(_within_safe_integers(item) for item in value)
    return True


class EventEnvelope(BaseModel):
    id: UUID
    topic: Topic
    source: str
    occurred_at: AwareDatetime
    payload: dict[str, Any]

    @field_validator("payload")
    @classmethod
    def _loggable(cls, payload: dict[str, Any]) -> dict[str, Any]:
        # Refused at the door (422) rather than failing the audit log's canonical JSON.
        if not _within_safe_integers(payload):
            raise ValueError(f"an integer in the payload is beyond +-{SAFE_INTEGER}")
        return payload


class EventReceipt(BaseModel):
    id: UUID
    duplicate: bool


MAX_EVENTS_PER_BATCH = 1000
"""Bounds the receiver's transaction; the relay sends far fewer (and under the body cap)."""


class EventBatch(BaseModel):
    """Events for one receiver, in the order they were emitted, handled in one transaction."""

    events: list[EventEnvelope] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)
    # Each event's W3C traceparent (None where untraced), in the events' order: the
    # trace of the request that wrote it, which the receiver's work joins. Beside the
    # envelopes, not in them: an envelope is what the audit log records, and a trace id
    # is no part of the event.
    trace_parents: list[Annotated[str, Field(max_length=128)] | None] | None = Field(
        default=None, max_length=MAX_EVENTS_PER_BATCH
    )

    @model_validator(mode="after")
    def _one_trace_parent_per_event(self) -> "EventBatch":
        if self.trace_parents is not None and len(self.trace_parents) != len(self.events):
            raise ValueError("trace_parents, when given, has one entry per event")
        return self


class EventBatchReceipt(BaseModel):
    receipts: list[EventReceipt]


class AccountRegistered(BaseModel):
    account_id: UUID
    name: str
    roles: list[str]


class AccountRoleGranted(BaseModel):
    account_id: UUID
    name: str
    role: str
    granted_by: UUID


class IdentityKind(StrEnum):
    """What was verified of an account: an organisation's name, confirmed by an admin
    against its papers, or an email address its holder proved they read."""

    ORGANISATION = "organisation"
    EMAIL = "email"


class AccountIdentityVerified(BaseModel):
    """An account's identity confirmed: evidence names a party by it, not by its id."""

    account_id: UUID
    kind: IdentityKind
    value: str = Field(min_length=1, max_length=320)
    verified_by: UUID | None = Field(
        description="the admin who confirmed it; null when the platform verified it itself "
        "(an email address confirmed by a link sent to it)"
    )
    verified_at: AwareDatetime
