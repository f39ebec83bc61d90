import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update

from services.catalogue.models import Creator, Share, Work
from services.catalogue.notification.models import Notification, NotificationSetting
from services.contracts.catalogue import MAILED_BY_DEFAULT, NotificationKind
from services.kit.repository import Repository


class NotificationRepository(Repository[Notification]):
    model = Notification

    async def of_creator(self, creator_id: uuid.UUID, first: int) -> Sequence[Notification]:
        return await self.list(
            select(Notification)
            .where(Notification.creator_id == creator_id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(first)
        )

    async def unread(self, creator_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.creator_id == creator_id, Notification.read_at.is_(None))
        )
        return count or 0

    async def mark_read(
        self, creator_id: uuid.UUID, ids: Sequence[uuid.UUID], at: datetime
    ) -> None:
        """Only the creator's own: an id of another's notification changes nothing."""
        statement = update(Notification).where(
            Notification.creator_id == creator_id, Notification.read_at.is_(None)
        )
        if ids:
            statement = statement.where(Notification.id.in_(ids))
        await self.session.execute(statement.values(read_at=at))

    async def mails(self, creator_id: uuid.UUID, kind: NotificationKind) -> bool:
        chosen = await self.session.scalar(
            select(NotificationSetting.mailed).where(
                NotificationSetting.creator_id == creator_id, NotificationSetting.kind == kind
            )
        )
        return kind in MAILED_BY_DEFAULT if chosen is None else chosen

    async def due_for_mail(self, now: datetime, first: int) -> Sequence[Notification]:
        """Locked, skipping those another sender holds: each is leased to one sender."""
        return await self.list(
            select(Notification)
            .where(Notification.mail_due_at <= now)
            .order_by(Notification.mail_due_at)
            .limit(first)
            .with_for_update(skip_locked=True)
        )

    async def settings(self, creator_id: uuid.UUID) -> dict[NotificationKind, bool]:
        rows = await self.session.scalars(
            select(NotificationSetting).where(NotificationSetting.creator_id == creator_id)
        )
        return {row.kind: row.mailed for row in rows}

    async def set_mailed(self, creator_id: uuid.UUID, chosen: dict[NotificationKind, bool]) -> None:
        held = {
            row.kind: row
            for row in await self.session.scalars(
                select(NotificationSetting)
                .where(NotificationSetting.creator_id == creator_id)
                .with_for_update()
            )
        }
        for kind, mailed in chosen.items():
            if (row := held.get(kind)) is None:
                row = NotificationSetting(creator_id=creator_id, kind=kind, mailed=mailed)
                self.session.add(row)
            else:
                row.mailed = mailed
        await self.session.flush()

    async def work_members(
        self, work_id: uuid.UUID
    ) -> tuple[str, uuid.UUID, dict[uuid.UUID, int]] | None:
        """The work's title, its owner, and each rights-holder's basis points."""
        found = (
            await self.session.execute(select(Work.title, Work.owner_id).where(Work.id == work_id))
        ).one_or_none()
        if found is None:
            return None
        shares = await self.session.execute(
            select(Share.creator_id, Share.basis_points).where(Share.work_id == work_id)
        )
        return found.title, found.owner_id, {row.creator_id: row.basis_points for row in shares}

    async def title_of(self, work_id: uuid.UUID) -> str | None:
        title: str | None = await self.session.scalar(select(Work.title).where(Work.id == work_id))
        return title

    async def name_of(self, creator_id: uuid.UUID) -> str:
        name = await self.session.scalar(select(Creator.name).where(Creator.id == creator_id))
        return name or "A creator"

    async def is_creator(self, creator_id: uuid.UUID) -> bool:
        return await self.session.get(Creator, creator_id) is not None
