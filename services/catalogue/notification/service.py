"""What each event tells whom, in a sentence; and a creator's own list and choices.

Each notification is written by the catalogue's inbox handler in the transaction that
records the event's id, so an event delivered twice notifies once.
"""

import uuid
from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import require_account
from services.catalogue.notification.models import Notification
from services.catalogue.notification.repository import NotificationRepository
from services.contracts.catalogue import (
    BASIS_POINTS_WHOLE,
    MAILED_BY_DEFAULT,
    InvitationEvent,
    InvitationStatus,
    NotificationKind,
    NotificationPage,
    NotificationRead,
    NotificationSettings,
    NotificationsRead,
    WorkReviewed,
    WorkWithdrawn,
)
from services.contracts.licensing import LicenceGranted, LicenceLineStatus
from services.kit.db import utcnow
from services.kit.errors import Forbidden
from services.kit.internal_token import Caller


def _percent(basis_points: int) -> str:
    return f"{basis_points / 100:g}%"


def _money(amount_minor: int, currency: str) -> str:
    return f"{amount_minor / 100:.2f} {currency}"


class NotificationService:
    async def _add(
        self,
        session: AsyncSession,
        creator_id: uuid.UUID,
        kind: NotificationKind,
        text: str,
        *,
        work_id: uuid.UUID | None = None,
        invitation_id: uuid.UUID | None = None,
        amount_minor: int | None = None,
        currency: str | None = None,
    ) -> None:
        now = utcnow()
        mailed = await NotificationRepository(session).mails(creator_id, kind)
        session.add(
            Notification(
                id=uuid.uuid4(),
                creator_id=creator_id,
                kind=kind,
                text=text[:500],
                work_id=work_id,
                invitation_id=invitation_id,
                amount_minor=amount_minor,
                currency=currency,
                created_at=now,
                mail_due_at=now if mailed else None,
                mail_attempts=0,
            )
        )

    async def on_sale(self, session: AsyncSession, sale: LicenceGranted) -> None:
        """One notification per rights-holder per licence: their share of its lines'
        prices (before the platform's fee), by each work's co-creator shares."""
        repository = NotificationRepository(session)
        earned: dict[uuid.UUID, int] = defaultdict(int)
        titles: dict[uuid.UUID, list[str]] = defaultdict(list)
        for line in sale.lines:
            if line.status != LicenceLineStatus.ACTIVE:
                continue
            members = await repository.work_members(line.work_id)
            if members is None:
                continue
            title, owner_id, shares = members
            for creator_id, basis_points in (shares or {owner_id: BASIS_POINTS_WHOLE}).items():
                earned[creator_id] += line.price_minor * basis_points // BASIS_POINTS_WHOLE
                titles[creator_id].append(f"“{title}”")
        for creator_id, amount in earned.items():
            await self._add(
                session,
                creator_id,
                NotificationKind.SALE,
                f"{sale.buyer_name} licensed {', '.join(titles[creator_id])}: your share is "
                f"{_money(amount, sale.currency)} before the platform's fee.",
                amount_minor=amount,
                currency=sale.currency,
            )

    async def on_invitation(self, session: AsyncSession, event: InvitationEvent) -> None:
        repository = NotificationRepository(session)
        members = await repository.work_members(event.work_id)
        title = f"“{members[0]}”" if members else "a work"
        if event.status == InvitationStatus.PENDING:
            inviter = await repository.name_of(event.invited_by)
            await self._add(
                session,
                event.creator_id,
                NotificationKind.INVITATION,
                f"{inviter} invites you to co-create {title} for a "
                f"{_percent(event.basis_points)} share.",
                work_id=event.work_id,
                invitation_id=event.invitation_id,
            )
            return
        invitee = await repository.name_of(event.creator_id)
        await self._add(
            session,
            event.invited_by,
            NotificationKind.INVITATION_ANSWER,
            f"{invitee} {event.status} your invitation to co-create {title}.",
            work_id=event.work_id,
            invitation_id=event.invitation_id,
        )

    async def on_review(self, session: AsyncSession, event: WorkReviewed) -> None:
        members = await NotificationRepository(session).work_members(event.work_id)
        if members is None:
            return
        title, owner_id, _ = members
        outcome = (
            "was accepted at review and is listed again"
            if event.accepted
            else "was refused at review and is withdrawn"
        )
        note = f" The reviewer's note: {event.note}" if event.note else ""
        await self._add(
            session,
            owner_id,
            NotificationKind.REVIEW,
            f"“{title}” {outcome}.{note}",
            work_id=event.work_id,
        )

    async def on_withdrawal(self, session: AsyncSession, event: WorkWithdrawn) -> None:
        members = await NotificationRepository(session).work_members(event.work_id)
        if members is None:
            return
        title, owner_id, shares = members
        for creator_id in {owner_id, *shares}:
            await self._add(
                session,
                creator_id,
                NotificationKind.WITHDRAWAL,
                f"“{title}” is withdrawn: it is sold no more, and what was sold before "
                "stays licensed.",
                work_id=event.work_id,
            )

    async def mine(self, session: AsyncSession, caller: Caller, first: int) -> NotificationPage:
        creator_id = require_account(caller)
        repository = NotificationRepository(session)
        items = await repository.of_creator(creator_id, first)
        return NotificationPage(
            items=[NotificationRead.model_validate(item) for item in items],
            unread=await repository.unread(creator_id),
        )

    async def mark_read(
        self, session: AsyncSession, caller: Caller, marked: NotificationsRead, first: int
    ) -> NotificationPage:
        await NotificationRepository(session).mark_read(
            require_account(caller), marked.ids, utcnow()
        )
        return await self.mine(session, caller, first)

    async def settings(self, session: AsyncSession, caller: Caller) -> NotificationSettings:
        chosen = await NotificationRepository(session).settings(require_account(caller))
        return NotificationSettings(
            mailed=[
                kind for kind in NotificationKind if chosen.get(kind, kind in MAILED_BY_DEFAULT)
            ]
        )

    async def set_settings(
        self, session: AsyncSession, caller: Caller, wanted: NotificationSettings
    ) -> NotificationSettings:
        creator_id = require_account(caller)
        repository = NotificationRepository(session)
        if not await repository.is_creator(creator_id):
            raise Forbidden("only a creator has notifications to choose for")
        await repository.set_mailed(
            creator_id, {kind: kind in wanted.mailed for kind in NotificationKind}
        )
        return await self.settings(session, caller)


notification_service = NotificationService()
