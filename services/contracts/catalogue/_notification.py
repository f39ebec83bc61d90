"""A creator's notifications: what happened to their works and invitations, read in the
portal, and mailed for the kinds they opted in to."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from services.contracts.catalogue._base import Schema

MAX_NOTIFICATIONS_PAGE = 50


class NotificationKind(StrEnum):
    SALE = "sale"
    PAYOUT = "payout"
    REVIEW = "review"
    INVITATION = "invitation"
    INVITATION_ANSWER = "invitation_answer"
    WITHDRAWAL = "withdrawal"


MAILED_BY_DEFAULT = frozenset({NotificationKind.INVITATION})
"""An invitation is mailed unless its person opted out: the mail is the invitation itself,
and someone not yet signed in would otherwise never learn of it."""


class NotificationRead(Schema):
    id: UUID
    kind: NotificationKind
    text: str = Field(description="the notification in a sentence, as the portal shows it")
    work_id: UUID | None
    invitation_id: UUID | None
    amount_minor: int | None = Field(
        description="a sale: the creator's net share of it; a payout: the transfer's amount"
    )
    currency: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationPage(Schema):
    items: list[NotificationRead]
    unread: int = Field(description="all the caller's unread notifications, not this page's")


class NotificationQuery(Schema):
    first: int = Field(default=20, ge=1, le=MAX_NOTIFICATIONS_PAGE)


class NotificationsRead(Schema):
    """Marks the named notifications read, or every one of the caller's when none is named."""

    ids: list[UUID] = Field(default_factory=list, max_length=MAX_NOTIFICATIONS_PAGE)


class NotificationSettings(Schema):
    mailed: list[NotificationKind] = Field(
        description="the kinds also mailed; the rest are shown in the portal only",
        max_length=len(NotificationKind),
    )


class NotificationMail(Schema):
    """A notification due to be mailed: leased to the gateway, which knows the address."""

    id: UUID
    creator_id: UUID
    kind: NotificationKind
    text: str
    invitation_id: UUID | None
    attempts: int


class NotificationMailed(Schema):
    sent: bool = Field(description="false: not sent, to be tried again later")
