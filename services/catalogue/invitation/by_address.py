"""Co-creators invited by email who have no account yet.

The owner names the address's keyed hash (the gateway computes it; the catalogue never
learns the address) and a share, which is taken from the owner's own: the shares still
sum to 10000 once it is claimed. Until then the work is off sale, as for any co-creator
who has not accepted. When an account verifies that address, the gateway (acting as
itself, never on a user's behalf) claims the invitations: each becomes the account's
share and an ordinary pending invitation, which they accept or decline, then consent.
"""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import owned_for_change, read_work, require_not_withdrawn
from services.catalogue.creator.repository import CreatorRepository
from services.catalogue.invitation.repository import InvitationRepository
from services.catalogue.invitation.service import announce, invitation_read
from services.catalogue.listing import refresh_listing
from services.catalogue.models import AddressInvitation, Share, Work
from services.catalogue.work.repository import WorkRepository
from services.contracts.catalogue import AddressClaim, AddressInvite, InvitationRead, WorkRead
from services.contracts.events import Topic
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import FieldError, Forbidden, InvalidRequest
from services.kit.internal_token import GATEWAY, Caller


def _owner_share(work: Work) -> Share:
    found = next((share for share in work.shares if share.creator_id == work.owner_id), None)
    assert found is not None, "a work always holds its owner's share"
    return found


class AddressInvitationService:
    async def invite(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID, invite: AddressInvite
    ) -> WorkRead:
        """Invite the address to a share of the owner's; naming it again changes the share."""
        work = await owned_for_change(session, caller, work_id)
        require_not_withdrawn(work)
        owner = _owner_share(work)
        held = next(
            (
                found
                for found in work.address_invitations
                if found.address_key == invite.address_key
            ),
            None,
        )
        available = owner.basis_points + (held.basis_points if held is not None else 0)
        if invite.basis_points >= available:
            raise InvalidRequest(
                "the share is more than yours",
                fields=[
                    FieldError(
                        "basis_points",
                        f"your share is {available}; give at most {available - 1} and keep "
                        "some of it",
                        "over_owner_share",
                    )
                ],
            )
        owner.basis_points = available - invite.basis_points
        if held is None:
            work.address_invitations.append(
                AddressInvitation(
                    id=uuid.uuid4(),
                    address_key=invite.address_key,
                    invited_by=work.owner_id,
                    basis_points=invite.basis_points,
                    created_at=utcnow(),
                )
            )
        else:
            held.basis_points = invite.basis_points
        refresh_listing(work)
        await session.flush()
        return await read_work(session, work.id)

    async def claim(
        self, session: AsyncSession, caller: Caller, claim: AddressClaim
    ) -> list[InvitationRead]:
        """The address's invitations, made the account's: a share and a pending invitation
        on each work. An account already a member gets nothing twice: the share offered
        goes back to the owner."""
        if caller.issuer != GATEWAY or not caller.has(Role.SERVICE):
            raise Forbidden("only the gateway claims invitations, for an account it verified")
        work_ids = (
            await session.scalars(
                select(AddressInvitation.work_id)
                .where(AddressInvitation.address_key == claim.address_key)
                .order_by(AddressInvitation.work_id)
            )
        ).all()
        if not work_ids:
            return []
        await CreatorRepository(session).upsert(claim.account_id, claim.name)
        claimed = []
        for work_id in work_ids:
            work = await WorkRepository(session).get_for_read(work_id, for_update=True)
            assert work is not None
            pending = next(
                found
                for found in work.address_invitations
                if found.address_key == claim.address_key
            )
            work.address_invitations.remove(pending)
            if any(share.creator_id == claim.account_id for share in work.shares):
                _owner_share(work).basis_points += pending.basis_points
            else:
                work.shares.append(
                    Share(
                        creator_id=claim.account_id,
                        position=len(work.shares),
                        basis_points=pending.basis_points,
                    )
                )
                claimed.append(
                    InvitationRepository(session).invite(
                        work, claim.account_id, pending.basis_points
                    )
                )
            await session.flush()
            # Read again with the new invitation's creator, whom the reasons name.
            changed = await WorkRepository(session).get_for_read(work_id)
            assert changed is not None
            refresh_listing(changed)
            await session.flush()
        rows = await session.execute(select(Work.id, Work.title).where(Work.id.in_(work_ids)))
        titles = {work_id: title for work_id, title in rows}
        for invitation in claimed:
            announce(session, Topic.INVITATION_SENT, invitation)
        return [invitation_read(invitation, titles[invitation.work_id]) for invitation in claimed]


address_invitation_service = AddressInvitationService()
