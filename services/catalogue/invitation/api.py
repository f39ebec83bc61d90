"""Co-creators' routes: their invitations, and their answers."""

import uuid

from services.catalogue.errors import WorkWithdrawn
from services.catalogue.invitation.by_address import address_invitation_service
from services.catalogue.invitation.errors import InvitationAnswered
from services.catalogue.invitation.service import invitation_service
from services.catalogue.routes import CHANGE, Session, catalogue_router
from services.contracts.catalogue import AddressClaim, AddressInvite, InvitationRead, WorkRead
from services.kit.errors import Forbidden, Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller

router = catalogue_router()


@router.get("/invitations", responses=error_responses(Unauthenticated, Forbidden))
async def my_invitations(caller: CurrentCaller, session: Session) -> list[InvitationRead]:
    """The caller's invitations to co-create, newest first."""
    return await invitation_service.mine(session, caller)


@router.post(
    "/invitations/{invitation_id}/accept",
    responses=error_responses(*CHANGE, InvitationAnswered),
)
async def accept_invitation(
    invitation_id: uuid.UUID, caller: CurrentCaller, session: Session
) -> InvitationRead:
    """Accept the share offered (the invited co-creator only); consent comes next."""
    return await invitation_service.answer(session, caller, invitation_id, accept=True)


@router.post(
    "/invitations/{invitation_id}/decline",
    responses=error_responses(*CHANGE, InvitationAnswered),
)
async def decline_invitation(
    invitation_id: uuid.UUID, caller: CurrentCaller, session: Session
) -> InvitationRead:
    """Decline the share offered; the work is not sold while it names a decliner."""
    return await invitation_service.answer(session, caller, invitation_id, accept=False)


@router.post(
    "/works/{work_id}/address-invitations",
    responses=error_responses(*CHANGE, WorkWithdrawn),
)
async def invite_by_address(
    work_id: uuid.UUID, invite: AddressInvite, caller: CurrentCaller, session: Session
) -> WorkRead:
    """Invite a co-creator by email who has no account yet (owner): the gateway sends
    the address's keyed hash, and the share comes out of the owner's. The work is off
    sale until the address is claimed and its account accepts and consents."""
    return await address_invitation_service.invite(session, caller, work_id, invite)


@router.post("/address-invitations/claim", responses=error_responses(Unauthenticated, Forbidden))
async def claim_address_invitations(
    claim: AddressClaim, caller: CurrentCaller, session: Session
) -> list[InvitationRead]:
    """The invitations made to an address, made the account's that verified it (the
    gateway alone, acting as itself); each waits for the account's answer."""
    return await address_invitation_service.claim(session, caller, claim)
