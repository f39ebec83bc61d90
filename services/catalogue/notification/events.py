"""The events the catalogue turns into notifications, by topic (its inbox handlers)."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.notification.service import notification_service
from services.contracts.catalogue import InvitationEvent, WorkReviewed, WorkWithdrawn
from services.contracts.events import EventEnvelope, Topic
from services.contracts.licensing import LedgerRecorded
from services.kit.outbox import EventHandler


async def _ledger(session: AsyncSession, envelope: EventEnvelope) -> None:
    recorded = LedgerRecorded.model_validate(envelope.payload)
    await notification_service.on_ledger(session, recorded.transaction)


async def _invitation(session: AsyncSession, envelope: EventEnvelope) -> None:
    await notification_service.on_invitation(
        session, InvitationEvent.model_validate(envelope.payload)
    )


async def _review(session: AsyncSession, envelope: EventEnvelope) -> None:
    await notification_service.on_review(session, WorkReviewed.model_validate(envelope.payload))


async def _withdrawal(session: AsyncSession, envelope: EventEnvelope) -> None:
    await notification_service.on_withdrawal(
        session, WorkWithdrawn.model_validate(envelope.payload)
    )


NOTIFYING: dict[Topic, EventHandler] = {
    Topic.LEDGER_RECORDED: _ledger,
    Topic.INVITATION_SENT: _invitation,
    Topic.INVITATION_ACCEPTED: _invitation,
    Topic.INVITATION_DECLINED: _invitation,
    Topic.WORK_REVIEWED: _review,
    Topic.WORK_WITHDRAWN: _withdrawal,
}
