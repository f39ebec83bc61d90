"""What the log records of an event, and which chains each event belongs to.

An entry is the canonical JSON of the whole event envelope (id, topic, source, time and
payload): the bytes its leaf hash is over, which a verifier re-hashes offline. The chain
subjects (the works, licences and accounts an event is about) are read from the payload
once, at intake, so that a chain is an index lookup rather than a scan of the log.
"""

import uuid
from enum import StrEnum

import structlog
from pydantic import ValidationError

from assent.protocol import canonical_json
from services.contracts.audit import ChainStep
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
    EventEnvelope,
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
from services.contracts.signing import KeyRotated, key_subject_id

log = structlog.get_logger()


class SubjectKind(StrEnum):
    """What a chain subject names. `work` and `licence` are the chains readers ask for;
    `creator` and `buyer` are the log's own evidence of who may read them."""

    WORK = "work"
    LICENCE = "licence"
    CREATOR = "creator"
    BUYER = "buyer"
    ACCOUNT = "account"
    KEY = "key"


Subject = tuple[SubjectKind, uuid.UUID]

STEPS: dict[Topic, ChainStep] = {
    Topic.ACCOUNT_REGISTERED: ChainStep.ACCOUNT,
    Topic.ACCOUNT_ROLE_GRANTED: ChainStep.ACCOUNT,
    Topic.ACCOUNT_IDENTITY_VERIFIED: ChainStep.ACCOUNT,
    # A withdrawn consent is still a consent version; `withdrawal` is the work leaving sale.
    Topic.CONSENT_GIVEN: ChainStep.CONSENT,
    Topic.CONSENT_REVISED: ChainStep.CONSENT,
    Topic.CONSENT_WITHDRAWN: ChainStep.CONSENT,
    # A co-creator's invitation and their answer: their part in the work's consent.
    Topic.INVITATION_SENT: ChainStep.CONSENT,
    Topic.INVITATION_ACCEPTED: ChainStep.CONSENT,
    Topic.INVITATION_DECLINED: ChainStep.CONSENT,
    Topic.OFFER_PUBLISHED: ChainStep.OFFER,
    Topic.WORK_WITHDRAWN: ChainStep.WITHDRAWAL,
    # Which file future sales deliver: part of what the work's offer is.
    Topic.WORK_VERSION_PUBLISHED: ChainStep.OFFER,
    # A review decides whether the work may be offered at all.
    Topic.WORK_REVIEWED: ChainStep.OFFER,
    Topic.LICENCE_GRANTED: ChainStep.LICENCE,
    Topic.LEDGER_RECORDED: ChainStep.PAYMENT,
    Topic.LICENCE_REFUNDED: ChainStep.REFUND,
    Topic.LICENCE_REVOKED: ChainStep.REVOCATION,
    Topic.DELIVERY_ISSUED: ChainStep.DELIVERY,
    Topic.FILE_DOWNLOADED: ChainStep.DOWNLOAD,
    # What licensing may sell of the work from then on: the offer as the seller enforces
    # it, which every sale of the work is ordered before or after.
    Topic.SALE_SCOPE_RECORDED: ChainStep.OFFER,
    # A signing key begins: every chain carries the keys, proven, to be checked with.
    Topic.KEY_ROTATED: ChainStep.KEY,
    Topic.TRAINING_RECORDED: ChainStep.TRAINING,
    Topic.TRAINING_REFUSED: ChainStep.TRAINING,
    # Where a creator's money goes is part of who the account is.
    Topic.PAYOUT_ACCOUNT_REQUESTED: ChainStep.ACCOUNT,
    Topic.PAYOUT_ACCOUNT_CONFIRMED: ChainStep.ACCOUNT,
}

WORK_STEPS = frozenset({ChainStep.CONSENT, ChainStep.OFFER, ChainStep.WITHDRAWAL})
"""Steps about a work itself, which every reader of its chain (or of a licence of it) sees."""

WORK_TOPICS = tuple(sorted(topic.value for topic, step in STEPS.items() if step in WORK_STEPS))


def step_of(topic: str) -> ChainStep:
    return STEPS[Topic(topic)]


def entry_bytes(envelope: EventEnvelope) -> bytes:
    return canonical_json(envelope.model_dump(mode="json"))


def _subjects(topic: Topic, payload: dict[str, object]) -> list[Subject]:
    match topic:
        case Topic.CONSENT_GIVEN | Topic.CONSENT_REVISED | Topic.CONSENT_WITHDRAWN:
            consent = ConsentRecorded.model_validate(payload)
            return [(SubjectKind.WORK, consent.work_id), (SubjectKind.CREATOR, consent.given_by)]
        case Topic.INVITATION_SENT | Topic.INVITATION_ACCEPTED | Topic.INVITATION_DECLINED:
            invitation = InvitationEvent.model_validate(payload)
            return [
                (SubjectKind.WORK, invitation.work_id),
                (SubjectKind.CREATOR, invitation.creator_id),
            ]
        case Topic.OFFER_PUBLISHED:
            return [(SubjectKind.WORK, OfferPublished.model_validate(payload).work_id)]
        case Topic.WORK_WITHDRAWN:
            return [(SubjectKind.WORK, WorkWithdrawn.model_validate(payload).work_id)]
        case Topic.WORK_VERSION_PUBLISHED:
            return [(SubjectKind.WORK, WorkVersionPublished.model_validate(payload).work_id)]
        case Topic.WORK_REVIEWED:
            return [(SubjectKind.WORK, WorkReviewed.model_validate(payload).work_id)]
        case Topic.LICENCE_GRANTED:
            granted = LicenceGranted.model_validate(payload)
            works = dict.fromkeys(line.work_id for line in granted.lines)
            return [
                (SubjectKind.LICENCE, granted.licence_id),
                (SubjectKind.BUYER, granted.buyer_id),
                *((SubjectKind.WORK, work_id) for work_id in works),
            ]
        case Topic.LEDGER_RECORDED:
            licence_id = LedgerRecorded.model_validate(payload).transaction.licence_id
            return [] if licence_id is None else [(SubjectKind.LICENCE, licence_id)]
        case Topic.DELIVERY_ISSUED:
            return [(SubjectKind.LICENCE, DeliveryIssued.model_validate(payload).licence_id)]
        case Topic.FILE_DOWNLOADED:
            downloaded = FileDownloaded.model_validate(payload)
            return [
                (SubjectKind.LICENCE, downloaded.licence_id),
                (SubjectKind.WORK, downloaded.work_id),
            ]
        case Topic.LICENCE_REFUNDED:
            return [(SubjectKind.LICENCE, LicenceRefunded.model_validate(payload).licence_id)]
        case Topic.LICENCE_REVOKED:
            return [(SubjectKind.LICENCE, LicenceRevoked.model_validate(payload).licence_id)]
        case Topic.SALE_SCOPE_RECORDED:
            return [(SubjectKind.WORK, SaleScopeRecorded.model_validate(payload).work_id)]
        case Topic.ACCOUNT_REGISTERED:
            return [(SubjectKind.ACCOUNT, AccountRegistered.model_validate(payload).account_id)]
        case Topic.ACCOUNT_ROLE_GRANTED:
            return [(SubjectKind.ACCOUNT, AccountRoleGranted.model_validate(payload).account_id)]
        case Topic.ACCOUNT_IDENTITY_VERIFIED:
            verified = AccountIdentityVerified.model_validate(payload)
            return [(SubjectKind.ACCOUNT, verified.account_id)]
        case Topic.TRAINING_RECORDED:
            run = TrainingRecorded.model_validate(payload).run
            works = dict.fromkeys(work for use in run.licences for work in use.work_ids)
            return [
                *((SubjectKind.LICENCE, use.licence_id) for use in run.licences),
                (SubjectKind.BUYER, run.buyer_id),
                *((SubjectKind.WORK, work_id) for work_id in works),
            ]
        case Topic.TRAINING_REFUSED:
            refused = TrainingRefused.model_validate(payload)
            return [
                (SubjectKind.LICENCE, refused.licence_id),
                (SubjectKind.BUYER, refused.buyer_id),
                (SubjectKind.WORK, refused.work_id),
            ]
        case Topic.PAYOUT_ACCOUNT_REQUESTED | Topic.PAYOUT_ACCOUNT_CONFIRMED:
            account = PayoutAccountRecorded.model_validate(payload).account
            return [(SubjectKind.ACCOUNT, account.creator_id)]
        case Topic.KEY_ROTATED:
            purpose = KeyRotated.model_validate(payload).purpose
            return [(SubjectKind.KEY, key_subject_id(purpose))]


def subjects_of(envelope: EventEnvelope) -> list[Subject]:
    """The chains an event belongs to.

    An event that does not match its topic's contract is still logged (the entry is the
    evidence, and refusing it would stall every later event of its sender), but joins no
    chain: it is reported loudly, and its subjects can be derived again from the entry.
    """
    try:
        return _subjects(envelope.topic, envelope.payload)
    except ValidationError as exc:
        log.error(
            "audit.subjects.unreadable",
            event_id=str(envelope.id),
            topic=envelope.topic,
            errors=exc.error_count(),
        )
        return []
