"""Co-creators' invitations and answers, and the owner's change of the shares."""

import uuid

import pydantic
import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.people.invitations import CoCreatorInvitations
from gateway.resolvers.catalogue._inputs import on_input_paths, owner_only, parse_work_id
from gateway.types.catalogue import (
    AnswerInvitationResult,
    ChangeSharesResult,
    CoCreatorInvited,
    Invitation,
    InvitationAnswered,
    InvitationAnswerRecorded,
    InvitationList,
    InvitationsResult,
    InviteCoCreatorResult,
    ShareInput,
    SharesChanged,
    Work,
)
from gateway.types.errors import REFUSALS, Conflict, NotFound, ValidationFailed, failure
from services.contracts import catalogue as contract
from services.kit import errors


def _invitation_id(value: strawberry.ID) -> uuid.UUID:
    """An id that is not a UUID names no invitation: the same answer as someone else's."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise errors.NotFound("no such invitation of yours") from None


async def _answer(ctx: Context, id: strawberry.ID, *, accept: bool) -> AnswerInvitationResult:
    try:
        principal = ctx.require_principal()
        answered = await ctx.catalogue.answer_invitation(
            principal, _invitation_id(id), accept=accept
        )
    except errors.AssentError as error:
        if isinstance(error, errors.Conflict) and error.code == "InvitationAnswered":
            return InvitationAnswered(message=error.detail)
        return failure(error, NotFound, *REFUSALS)
    return InvitationAnswerRecorded(invitation=Invitation.of(answered))


@strawberry.type
class CoCreatorQuery:
    @strawberry.field(
        description="Your invitations to co-create, pending and answered, newest first."
    )
    async def invitations(self, info: Info[Context, None]) -> InvitationsResult:
        ctx = info.context
        try:
            found = await ctx.catalogue.invitations(ctx.require_principal())
        except errors.AssentError as error:
            return failure(error, *REFUSALS)
        return InvitationList(items=[Invitation.of(invitation) for invitation in found])


@strawberry.type
class CoCreatorMutation:
    @strawberry.mutation(
        description="Accept the share you were offered; your consent comes next. Answered "
        "once: InvitationAnswered if it was already."
    )
    async def accept_invitation(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> AnswerInvitationResult:
        return await _answer(info.context, id, accept=True)

    @strawberry.mutation(
        description="Decline the share you were offered: the work is not sold while it "
        "names you. Answered once: InvitationAnswered if it was already."
    )
    async def decline_invitation(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> AnswerInvitationResult:
        return await _answer(info.context, id, accept=False)

    @strawberry.mutation(
        description="New co-creator shares for your work (summing to 10000, yours "
        "included). Everyone whose share changes is asked to accept it again, and the "
        "work is off sale until they do; only a co-creator who declined may be left out."
    )
    async def change_shares(
        self, info: Info[Context, None], work_id: strawberry.ID, shares: list[ShareInput]
    ) -> ChangeSharesResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            change = contract.SharesChange.model_validate(
                {
                    "shares": [
                        {"creator_id": str(share.creator_id), "basis_points": share.basis_points}
                        for share in shares
                    ]
                }
            )
            work = await ctx.catalogue.change_shares(principal, parse_work_id(work_id), change)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                on_input_paths(owner_only(error)), ValidationFailed, NotFound, Conflict, *REFUSALS
            )
        return SharesChanged(work=Work.of(work))

    @strawberry.mutation(
        description="Invite a co-creator by email to a share of your work, taken out of "
        "yours. An address with an account gets the invitation at once; any other is mailed "
        "a link to sign up, and gets it once its account verifies the address. Either way "
        "the work is off sale until they accept and consent, and the answer is the same."
    )
    async def invite_co_creator(
        self, info: Info[Context, None], work_id: strawberry.ID, email: str, basis_points: int
    ) -> InviteCoCreatorResult:
        ctx = info.context
        assert ctx.request is not None, "an operation always comes with its request"
        invitations: CoCreatorInvitations = ctx.request.app.state.co_creator_invitations
        try:
            principal = ctx.require_principal()
            async with ctx.atomic() as session:
                message = await invitations.invite(
                    session,
                    ctx.catalogue,
                    principal,
                    parse_work_id(work_id),
                    email=email,
                    basis_points=basis_points,
                )
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                on_input_paths(owner_only(error)), ValidationFailed, NotFound, Conflict, *REFUSALS
            )
        return CoCreatorInvited(message=message)
