"""Co-creators: the invitation to a share of a work, their answer, and a change of the
shares (which asks everyone whose share changes again)."""

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.catalogue._work import Creator, Work
from gateway.types.errors import Conflict, Error, NotFound, Refusals, ValidationFailed
from services.contracts import catalogue as contract

InvitationStatus = contract.InvitationStatus
strawberry.enum(InvitationStatus)


@strawberry.type(
    description="An invitation to co-create a work: the share offered, and your answer."
)
class Invitation:
    id: strawberry.ID
    status: InvitationStatus
    basis_points: int = strawberry.field(description="The share offered, of 10000.")
    work_title: str
    created_at: datetime = strawberry.field(
        description="When it was sent, or sent again for a changed share."
    )
    answered_at: datetime | None
    work_id: strawberry.Private[uuid.UUID]
    invited_by_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, invitation: contract.InvitationRead) -> "Invitation":
        return cls(
            id=strawberry.ID(str(invitation.id)),
            status=invitation.status,
            basis_points=invitation.basis_points,
            work_title=invitation.work_title,
            created_at=invitation.created_at,
            answered_at=invitation.answered_at,
            work_id=invitation.work_id,
            invited_by_id=invitation.invited_by,
        )

    @strawberry.field(description="The work, as you may see it: its shares and sale status.")
    async def work(self, info: Info[Context, None]) -> Work | None:
        found = await info.context.loaders.works.load(self.work_id)
        return Work.of(found) if found else None

    @strawberry.field(description="The work's owner, who named you.")
    async def invited_by(self, info: Info[Context, None]) -> Creator | None:
        creator = await info.context.loaders.creators.load(self.invited_by_id)
        return Creator(id=strawberry.ID(str(creator.id)), name=creator.name) if creator else None


@strawberry.type
class InvitationList:
    items: list[Invitation] = strawberry.field(description="Newest first, answered or not.")


@strawberry.type
class InvitationAnswerRecorded:
    invitation: Invitation


@strawberry.type
class InvitationAnswered(Error):
    """The invitation was answered already: an answer stands until the share changes."""


@strawberry.type
class SharesChanged:
    work: Work


@strawberry.type(
    description="The invitation is on its way: the same words whether or not the address "
    "has an account."
)
class CoCreatorInvited:
    message: str


InvitationsResult = Annotated[InvitationList | Refusals, strawberry.union("InvitationsResult")]
AnswerInvitationResult = Annotated[
    InvitationAnswerRecorded | NotFound | InvitationAnswered | Refusals,
    strawberry.union("AnswerInvitationResult"),
]
ChangeSharesResult = Annotated[
    SharesChanged | ValidationFailed | NotFound | Conflict | Refusals,
    strawberry.union("ChangeSharesResult"),
]
InviteCoCreatorResult = Annotated[
    CoCreatorInvited | ValidationFailed | NotFound | Conflict | Refusals,
    strawberry.union("InviteCoCreatorResult"),
]
