"""A creator's notifications: the list and unread count, marking read, and the kinds
also mailed. Each caller reaches only their own (the catalogue answers by the caller)."""

import uuid

import pydantic
import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.errors import REFUSALS, Forbidden, ValidationFailed, failure
from gateway.types.notifications import (
    NotificationKind,
    NotificationList,
    NotificationSettings,
    NotificationSettingsResult,
    NotificationsResult,
)
from services.contracts import catalogue as contract
from services.kit import errors

PAGE = strawberry.argument(description="How many, newest first (at most 50).")


def _ids(values: list[strawberry.ID]) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(str(value)) for value in values]
    except ValueError:
        raise errors.InvalidRequest("ids: each is a notification's id") from None


@strawberry.type
class NotificationsQuery:
    @strawberry.field(description="Your notifications, newest first, and how many are unread.")
    async def notifications(
        self, info: Info[Context, None], first: int = 20
    ) -> NotificationsResult:
        ctx = info.context
        try:
            query = contract.NotificationQuery(first=first)
            page = await ctx.notifications.page(ctx.require_principal(), query.first)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, Forbidden, ValidationFailed, *REFUSALS)
        return NotificationList.of(page)

    @strawberry.field(description="Which kinds of notification also reach you by mail.")
    async def notification_settings(self, info: Info[Context, None]) -> NotificationSettingsResult:
        ctx = info.context
        try:
            found = await ctx.notifications.settings(ctx.require_principal())
        except errors.AssentError as error:
            return failure(error, Forbidden, *REFUSALS)
        return NotificationSettings(mailed=found.mailed)


@strawberry.type
class NotificationsMutation:
    @strawberry.mutation(
        description="Mark your named notifications read, or all of them when none is named; "
        "answers your newest, with the unread count."
    )
    async def mark_notifications_read(
        self, info: Info[Context, None], ids: list[strawberry.ID] | None = None, first: int = 20
    ) -> NotificationsResult:
        ctx = info.context
        try:
            query = contract.NotificationQuery(first=first)
            marked = contract.NotificationsRead(ids=_ids(ids or []))
            page = await ctx.notifications.mark_read(ctx.require_principal(), marked, query.first)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, Forbidden, ValidationFailed, *REFUSALS)
        return NotificationList.of(page)

    @strawberry.mutation(
        description="Choose the kinds of notification also mailed to you; the others are "
        "shown in the portal only."
    )
    async def set_notification_settings(
        self, info: Info[Context, None], mailed: list[NotificationKind]
    ) -> NotificationSettingsResult:
        ctx = info.context
        try:
            wanted = contract.NotificationSettings(mailed=list(dict.fromkeys(mailed)))
            found = await ctx.notifications.set_settings(ctx.require_principal(), wanted)
        except errors.AssentError as error:
            return failure(error, Forbidden, *REFUSALS)
        return NotificationSettings(mailed=found.mailed)
