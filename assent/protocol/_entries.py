"""A chain entry read back into the event the log received: its envelope, its topic's
contract, and what disagrees with the fields shown beside it."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from services.contracts.audit import ChainEntry, ChainStep
from services.contracts.catalogue import (
    ConsentRecorded,
    InvitationEvent,
    OfferPublished,
    WorkReviewed,
    WorkVersionPublished,
    WorkWithdrawn,
)
from services.contracts.delivery import DeliveryIssued, FileDownloaded
from services.contracts.events import (
    AccountIdentityVerified,
    AccountRegistered,
    AccountRoleGranted,
    Topic,
)
from services.contracts.licensing import (
    LedgerRecorded,
    LicenceGranted,
    LicenceRefunded,
    LicenceRevoked,
    PayoutAccountRecorded,
    SaleScopeRecorded,
    TrainingRecorded,
    TrainingRefused,
)
from services.contracts.signing import KeyRotated

from ._documents import first_error

PAYLOADS: dict[Topic, type[BaseModel]] = {
    Topic.ACCOUNT_REGISTERED: AccountRegistered,
    Topic.ACCOUNT_ROLE_GRANTED: AccountRoleGranted,
    Topic.ACCOUNT_IDENTITY_VERIFIED: AccountIdentityVerified,
    Topic.CONSENT_GIVEN: ConsentRecorded,
    Topic.CONSENT_REVISED: ConsentRecorded,
    Topic.CONSENT_WITHDRAWN: ConsentRecorded,
    Topic.INVITATION_SENT: InvitationEvent,
    Topic.INVITATION_ACCEPTED: InvitationEvent,
    Topic.INVITATION_DECLINED: InvitationEvent,
    Topic.OFFER_PUBLISHED: OfferPublished,
    Topic.WORK_WITHDRAWN: WorkWithdrawn,
    Topic.WORK_VERSION_PUBLISHED: WorkVersionPublished,
    Topic.WORK_REVIEWED: WorkReviewed,
    Topic.LICENCE_GRANTED: LicenceGranted,
    Topic.LICENCE_REFUNDED: LicenceRefunded,
    Topic.LICENCE_REVOKED: LicenceRevoked,
    Topic.LEDGER_RECORDED: LedgerRecorded,
    Topic.DELIVERY_ISSUED: DeliveryIssued,
    Topic.FILE_DOWNLOADED: FileDownloaded,
    Topic.SALE_SCOPE_RECORDED: SaleScopeRecorded,
    Topic.KEY_ROTATED: KeyRotated,
    Topic.TRAINING_RECORDED: TrainingRecorded,
    Topic.TRAINING_REFUSED: TrainingRefused,
    Topic.PAYOUT_ACCOUNT_REQUESTED: PayoutAccountRecorded,
    Topic.PAYOUT_ACCOUNT_CONFIRMED: PayoutAccountRecorded,
}
"""The contract each topic's payload is read with."""

STEPS: dict[Topic, frozenset[ChainStep]] = {
    Topic.ACCOUNT_REGISTERED: frozenset({ChainStep.ACCOUNT}),
    Topic.ACCOUNT_ROLE_GRANTED: frozenset({ChainStep.ACCOUNT}),
    Topic.ACCOUNT_IDENTITY_VERIFIED: frozenset({ChainStep.ACCOUNT}),
    Topic.CONSENT_GIVEN: frozenset({ChainStep.CONSENT}),
    Topic.CONSENT_REVISED: frozenset({ChainStep.CONSENT}),
    # A withdrawn consent is both a consent version and the work's withdrawal from sale.
    Topic.CONSENT_WITHDRAWN: frozenset({ChainStep.CONSENT, ChainStep.WITHDRAWAL}),
    Topic.INVITATION_SENT: frozenset({ChainStep.CONSENT}),
    Topic.INVITATION_ACCEPTED: frozenset({ChainStep.CONSENT}),
    Topic.INVITATION_DECLINED: frozenset({ChainStep.CONSENT}),
    Topic.OFFER_PUBLISHED: frozenset({ChainStep.OFFER}),
    Topic.WORK_WITHDRAWN: frozenset({ChainStep.WITHDRAWAL}),
    Topic.WORK_VERSION_PUBLISHED: frozenset({ChainStep.OFFER}),
    # A review decides whether the work may be offered at all.
    Topic.WORK_REVIEWED: frozenset({ChainStep.OFFER}),
    Topic.LICENCE_GRANTED: frozenset({ChainStep.LICENCE}),
    Topic.LICENCE_REFUNDED: frozenset({ChainStep.REFUND}),
    Topic.LICENCE_REVOKED: frozenset({ChainStep.REVOCATION}),
    # A sale is the payment and its royalty split; a refund transaction reverses one.
    Topic.LEDGER_RECORDED: frozenset({ChainStep.PAYMENT, ChainStep.REFUND}),
    Topic.DELIVERY_ISSUED: frozenset({ChainStep.DELIVERY}),
    Topic.FILE_DOWNLOADED: frozenset({ChainStep.DOWNLOAD}),
    # What licensing may sell of a work: the offer as the seller enforces it.
    Topic.SALE_SCOPE_RECORDED: frozenset({ChainStep.OFFER}),
    Topic.KEY_ROTATED: frozenset({ChainStep.KEY}),
    Topic.TRAINING_RECORDED: frozenset({ChainStep.TRAINING}),
    Topic.TRAINING_REFUSED: frozenset({ChainStep.TRAINING}),
    Topic.PAYOUT_ACCOUNT_REQUESTED: frozenset({ChainStep.ACCOUNT}),
    Topic.PAYOUT_ACCOUNT_CONFIRMED: frozenset({ChainStep.ACCOUNT}),
}
"""The steps an entry of each topic may be shown as: the report reads the step, so an
entry shown under another step's name would mislead it."""


class LoggedEvent(BaseModel):
    """The envelope of one chain event, as the log received and stored it."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    topic: str
    source: str
    occurred_at: AwareDatetime
    payload: dict[str, Any]


@dataclass(frozen=True)
class Problem:
    """A failed check, and the entries (by position in the export) it is about."""

    message: str
    positions: tuple[int, ...] = ()


@dataclass(frozen=True)
class ChainEvent:
    """An entry whose bytes read as a chain event (whether or not its proof holds)."""

    position: int
    """1-based place in the export's list of entries."""
    entry: ChainEntry
    event: LoggedEvent
    payload: BaseModel

    @property
    def where(self) -> str:
        return where(self.position, self.entry)

    @property
    def topic(self) -> Topic:
        return Topic(self.event.topic)


def where(position: int, entry: ChainEntry) -> str:
    return f"entry {position} (log index {entry.index}, event {entry.event_id})"


def aware(moment: datetime) -> datetime:
    # The services write UTC; a time without a zone is read as UTC rather than refused,
    # since comparing it with an aware time would otherwise fail outright.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- reading entries ----------------------------------------------------------------------


def read_entry(position: int, entry: ChainEntry) -> tuple[ChainEvent | None, list[Problem]]:
    """The entry's logged event, and what disagrees with the fields shown beside it."""
    here = where(position, entry)
    at = (position,)
    if entry.entry is None:
        # Withheld from this reader: only its place in the log is proven.
        return None, []
    try:
        event = LoggedEvent.model_validate_json(entry.entry)
    except ValidationError as exc:
        return None, [
            Problem(f"{here}: entry bytes: not an event envelope: {first_error(exc)}", at)
        ]
    problems: list[Problem] = []
    if event.id != entry.event_id:
        problems.append(Problem(f"{here}: event id: the entry bytes say {event.id}", at))
    if event.topic != entry.topic:
        problems.append(
            Problem(
                f"{here}: topic: shown as {entry.topic!r}, the entry bytes say {event.topic!r}", at
            )
        )
    if aware(entry.occurred_at) != event.occurred_at:
        problems.append(
            Problem(
                f"{here}: occurred_at: shown as {entry.occurred_at.isoformat()}, the entry "
                f"bytes say {event.occurred_at.isoformat()}",
                at,
            )
        )
    if event.topic not in PAYLOADS:
        problems.append(Problem(f"{here}: topic {event.topic!r} is not a chain event", at))
        return None, problems
    topic = Topic(event.topic)
    if entry.step not in STEPS[topic]:
        allowed = " or ".join(sorted(STEPS[topic]))
        problems.append(
            Problem(f"{here}: step: shown as {entry.step}, a {topic} entry is {allowed}", at)
        )
    try:
        payload = PAYLOADS[topic].model_validate(event.payload)
    except ValidationError as exc:
        problems.append(Problem(f"{here}: payload: not a valid {topic}: {first_error(exc)}", at))
        return None, problems
    return ChainEvent(position, entry, event, payload), problems
