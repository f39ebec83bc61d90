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
from services.contracts.licensing import LedgerAccountKind, TransactionKind, TransactionRead
from services.kit.db import utcnow
from services.kit.errors import Forbidden
from services.kit.internal_token import Caller


def _percent(basis_points: int) -> str:
    return f"{basis_points / 100:g}%"


def _money(amount_minor: int, currency: str) -> str:
    return f"{amount_minor / 100:.2f} {currency}"


PAYOUT_WORDS = {
    TransactionKind.PAYOUT_SENT: "A transfer of {money} is on its way to your bank.",
    TransactionKind.PAYOUT_SETTLED: "Your bank received the transfer of {money}.",
    TransactionKind.PAYOUT_RETURNED: (
        "Your bank returned the transfer of {money}: it is yours again, paid with the next "
        "run to the account you confirm."
    ),
    TransactionKind.PAYOUT: "{money} was paid to you outside Assent.",
}


def _by_owner(
    recorded: TransactionRead, account_kind: LedgerAccountKind
) -> dict[uuid.UUID, tuple[int, list[uuid.UUID]]]:
    """Each owner's amount moved on their accounts of this kind, and the works it was for."""
    amounts: dict[uuid.UUID, int] = defaultdict(int)
    works: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for posting in recorded.postings:
        if posting.account_kind != account_kind or posting.owner_id is None:
            continue
        amounts[posting.owner_id] += abs(posting.amount_minor)
        if posting.work_id is not None and posting.work_id not in works[posting.owner_id]:
            works[posting.owner_id].append(posting.work_id)
    return {owner: (amount, works[owner]) for owner, amount in amounts.items() if amount}


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

    async def on_ledger(self, session: AsyncSession, recorded: TransactionRead) -> None:
        """A sale: each creator's net share (after the platform's fee), as the ledger
        credited it. A payout's transfer sent, settled or returned: its amount, to the
        creator it pays. One notification per creator per transaction."""
        if recorded.kind == TransactionKind.SALE:
            moved = _by_owner(recorded, LedgerAccountKind.CREATOR_PAYABLE)
        elif recorded.kind in PAYOUT_WORDS:
            moved = _by_owner(recorded, LedgerAccountKind.IN_PAYMENT)
        else:
            return
        repository = NotificationRepository(session)
        for creator_id, (amount, work_ids) in moved.items():
            if not await repository.is_creator(creator_id):
                continue
            money = _money(amount, recorded.currency)
            if recorded.kind == TransactionKind.SALE:
                titles = [await repository.title_of(work_id) for work_id in work_ids]
                named = ", ".join(f"“{title}”" for title in titles if title) or "Your work"
                kind = NotificationKind.SALE
                text = f"{named} licensed: your share is {money} after the platform's fee."
            else:
                kind = NotificationKind.PAYOUT
                text = PAYOUT_WORDS[recorded.kind].format(money=money)
            await self._add(
                session,
                creator_id,
                kind,
                text,
                work_id=work_ids[0] if len(work_ids) == 1 else None,
                amount_minor=amount,
                currency=recorded.currency,
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
