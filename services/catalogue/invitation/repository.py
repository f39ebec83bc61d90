import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from services.catalogue.models import Invitation, Work
from services.contracts.catalogue import InvitationStatus
from services.kit.db import utcnow
from services.kit.repository import Repository


class InvitationRepository(Repository[Invitation]):
    model = Invitation

    def invite(self, work: Work, creator_id: uuid.UUID, basis_points: int) -> Invitation:
        """A pending invitation to the share; the work's own list holds it from now on."""
        invitation = Invitation(
            id=uuid.uuid4(),
            work_id=work.id,
            creator_id=creator_id,
            invited_by=work.owner_id,
            basis_points=basis_points,
            status=InvitationStatus.PENDING,
            created_at=utcnow(),
        )
        work.invitations.append(invitation)
        return invitation

    def ask_again(self, invitation: Invitation, basis_points: int) -> None:
        """The invitation sent again for a new share, waiting for a new answer."""
        invitation.basis_points = basis_points
        invitation.status = InvitationStatus.PENDING
        invitation.created_at = utcnow()
        invitation.answered_at = None

    async def get_for_answer(self, invitation_id: uuid.UUID) -> Invitation | None:
        """The invitation, its work locked first: an answer changes the work's listing."""
        work_id = await self.session.scalar(
            select(Invitation.work_id).where(Invitation.id == invitation_id)
        )
        if work_id is None:
            return None
        await self.session.scalar(select(Work.id).where(Work.id == work_id).with_for_update())
        return await self.session.get(Invitation, invitation_id, populate_existing=True)

    async def of_creator(self, creator_id: uuid.UUID) -> Sequence[tuple[Invitation, str]]:
        """The creator's invitations, newest first, each with its work's title."""
        statement = (
            select(Invitation, Work.title)
            .join(Work, Work.id == Invitation.work_id)
            .where(Invitation.creator_id == creator_id)
            .order_by(Invitation.created_at.desc(), Invitation.id)
            .options(joinedload(Invitation.creator))
        )
        return (await self.session.execute(statement)).tuples().all()
