"""A creator's notifications and their choice of which are mailed."""

from datetime import datetime
from typing import Annotated

import strawberry

from gateway.types.errors import Forbidden, Refusals, ValidationFailed
from services.contracts import catalogue as contract

NotificationKind = contract.NotificationKind
strawberry.enum(NotificationKind)


@strawberry.type(description="Something that happened to your works or invitations.")
class Notification:
    id: strawberry.ID
    kind: NotificationKind
    text: str = strawberry.field(description="What happened, in a sentence.")
    work_id: strawberry.ID | None
    invitation_id: strawberry.ID | None = strawberry.field(
        description="An invitation to answer (acceptInvitation / declineInvitation)."
    )
    amount_minor: int | None = strawberry.field(
        description="A sale: your net share of it (after the platform's fee); a payout: "
        "the transfer's amount. In minor units."
    )
    currency: str | None
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, found: contract.NotificationRead) -> "Notification":
        def optional_id(value: object) -> strawberry.ID | None:
            return strawberry.ID(str(value)) if value is not None else None

        return cls(
            id=strawberry.ID(str(found.id)),
            kind=found.kind,
            text=found.text,
            work_id=optional_id(found.work_id),
            invitation_id=optional_id(found.invitation_id),
            amount_minor=found.amount_minor,
            currency=found.currency,
            created_at=found.created_at,
            read_at=found.read_at,
        )


@strawberry.type
class NotificationList:
    items: list[Notification] = strawberry.field(description="Newest first.")
    unread: int = strawberry.field(description="All your unread notifications.")

    @classmethod
    def of(cls, page: contract.NotificationPage) -> "NotificationList":
        return cls(items=[Notification.of(item) for item in page.items], unread=page.unread)


@strawberry.type(description="Which kinds of notification also reach you by mail.")
class NotificationSettings:
    mailed: list[NotificationKind] = strawberry.field(
        description="Mailed as well as shown in the portal. By default only invitations, "
        "whose mail is the invitation itself."
    )


NotificationsResult = Annotated[
    NotificationList | Forbidden | ValidationFailed | Refusals,
    strawberry.union("NotificationsResult"),
]
NotificationSettingsResult = Annotated[
    NotificationSettings | Forbidden | Refusals, strawberry.union("NotificationSettingsResult")
]
