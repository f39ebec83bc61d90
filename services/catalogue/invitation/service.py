"""Co-creators' invitations: naming a co-creator invites them to their share, and the
work is for sale only once every one of them has accepted it (and consented)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import require_account
from services.catalogue.invitation.errors import InvitationAnswered
from services.catalogue.invitation.repository import InvitationRepository
from services.catalogue.listing import refresh_listing
from services.catalogue.models import Invitation, Work
from services.catalogue.work.repository import WorkRepository
from services.contracts.catalogue import InvitationEvent, InvitationRead, InvitationStatus
from services.contracts.events import Topic
from services.kit.db import utcnow
from services.kit.errors import NotFound
from services.kit.internal_token import Caller
from services.kit.outbox import emit

ANSWER_TOPICS = {
    InvitationStatus.ACCEPTED: Topic.INVITATION_ACCEPTED,
    InvitationStatus.DECLINED: Topic.INVITATION_DECLINED,
}


def announce(session: AsyncSession, topic: Topic, invitation: Invitation) -> None:
    emit(
        session,
        topic,
        InvitationEvent(
            invitation_id=invitation.id,
            work_id=invitation.work_id,
            creator_id=invitation.creator_id,
            invited_by=invitation.invited_by,
            basis_points=invitation.basis_points,
            status=invitation.status,
            occurred_at=invitation.answered_at or invitation.created_at,
        ),
    )


def invitation_read(invitation: Invitation, work_title: str) -> InvitationRead:
    return InvitationRead(
        id=invitation.id,
        work_id=invitation.work_id,
        work_title=work_title,
        creator_id=invitation.creator_id,
        invited_by=invitation.invited_by,
        basis_points=invitation.basis_points,
        status=invitation.status,
        created_at=invitation.created_at,
        answered_at=invitation.answered_at,
    )


class InvitationService:
    async def invite_co_creators(self, session: AsyncSession, work: Work) -> None:
        """Invite everyone the work's shares name besides its owner, in their order."""
        invitations = InvitationRepository(session)
        sent = [
            invitations.invite(work, share.creator_id, share.basis_points)
            for share in work.shares
            if share.creator_id != work.owner_id
        ]
        await session.flush()
        for invitation in sent:
            announce(session, Topic.INVITATION_SENT, invitation)

    async def ask_again(self, session: AsyncSession, work: Work) -> None:
        """After the work's shares changed: a co-creator newly named is invited, one whose
        share changed is asked again (pending, for the new share), and one no longer named
        loses their invitation. Everyone else's answer stands."""
        invitations = InvitationRepository(session)
        named = {
            share.creator_id: share.basis_points
            for share in work.shares
            if share.creator_id != work.owner_id
        }
        held = {invitation.creator_id: invitation for invitation in work.invitations}
        # The new shares sum to 10000 without anyone invited by email: their invitations
        # (and the shares they held out of the owner's) are withdrawn.
        work.address_invitations.clear()
        work.invitations[:] = [held[creator_id] for creator_id in named if creator_id in held]
        asked = []
        for creator_id, basis_points in named.items():
            invitation = held.get(creator_id)
            if invitation is None:
                asked.append(invitations.invite(work, creator_id, basis_points))
            elif invitation.basis_points != basis_points:
                invitations.ask_again(invitation, basis_points)
                asked.append(invitation)
        await session.flush()
        for invitation in asked:
            announce(session, Topic.INVITATION_SENT, invitation)

    async def mine(self, session: AsyncSession, caller: Caller) -> list[InvitationRead]:
        """The caller's invitations, newest first: all a co-creator may act on."""
        found = await InvitationRepository(session).of_creator(require_account(caller))
        return [invitation_read(invitation, title) for invitation, title in found]

    async def answer(
        self,
        session: AsyncSession,
        caller: Caller,
        invitation_id: uuid.UUID,
        *,
        accept: bool,
    ) -> InvitationRead:
        invitation = await InvitationRepository(session).get_for_answer(invitation_id)
        # Someone else's invitation is not revealed, not even that it exists.
        if invitation is None or invitation.creator_id != caller.account_id:
            raise NotFound("no such invitation of yours")
        if invitation.status != InvitationStatus.PENDING:
            raise InvitationAnswered(f"this invitation was already {invitation.status}")
        invitation.status = InvitationStatus.ACCEPTED if accept else InvitationStatus.DECLINED
        invitation.answered_at = utcnow()
        await session.flush()
        work = await WorkRepository(session).get_for_read(invitation.work_id)
        assert work is not None
        refresh_listing(work)
        await session.flush()
        announce(session, ANSWER_TOPICS[invitation.status], invitation)
        return invitation_read(invitation, work.title)


invitation_service = InvitationService()
