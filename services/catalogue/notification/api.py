"""A creator's notifications: the list with its unread count, marking read, and which
kinds are also mailed."""

import uuid
from typing import Annotated

from fastapi import Query

from services.catalogue.notification.mail import notification_mail_service
from services.catalogue.notification.service import notification_service
from services.catalogue.routes import Session, catalogue_router
from services.contracts.catalogue import (
    NotificationMail,
    NotificationMailed,
    NotificationPage,
    NotificationQuery,
    NotificationSettings,
    NotificationsRead,
)
from services.kit.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller

router = catalogue_router()

ERRORS = error_responses(Unauthenticated, Forbidden, InvalidRequest)


@router.get("/notifications", responses=ERRORS)
async def my_notifications(
    query: Annotated[NotificationQuery, Query()], caller: CurrentCaller, session: Session
) -> NotificationPage:
    """The caller's notifications, newest first, and how many are unread."""
    return await notification_service.mine(session, caller, query.first)


@router.post("/notifications/read", responses=ERRORS)
async def mark_notifications_read(
    marked: NotificationsRead,
    query: Annotated[NotificationQuery, Query()],
    caller: CurrentCaller,
    session: Session,
) -> NotificationPage:
    """Mark the caller's named notifications read (all of them when none is named)."""
    return await notification_service.mark_read(session, caller, marked, query.first)


@router.get("/notification-settings", responses=ERRORS)
async def my_notification_settings(caller: CurrentCaller, session: Session) -> NotificationSettings:
    """Which kinds of notification the caller also receives by mail."""
    return await notification_service.settings(session, caller)


@router.put("/notification-settings", responses=ERRORS)
async def set_notification_settings(
    wanted: NotificationSettings, caller: CurrentCaller, session: Session
) -> NotificationSettings:
    """Choose the kinds also mailed; the others are shown in the portal only."""
    return await notification_service.set_settings(session, caller, wanted)


@router.post(
    "/notifications/mail/lease",
    responses=error_responses(Unauthenticated, Forbidden),
    include_in_schema=False,
)
async def lease_notification_mail(
    query: Annotated[NotificationQuery, Query()], caller: CurrentCaller, session: Session
) -> list[NotificationMail]:
    """The notifications due to be mailed, leased to the calling gateway for a while."""
    return await notification_mail_service.lease_due(session, caller, query.first)


@router.post(
    "/notifications/{notification_id}/mailed",
    responses=error_responses(Unauthenticated, Forbidden, NotFound),
    include_in_schema=False,
)
async def record_notification_mail(
    notification_id: uuid.UUID,
    outcome: NotificationMailed,
    caller: CurrentCaller,
    session: Session,
) -> None:
    """Whether the gateway sent the notification's mail; one not sent is tried later."""
    await notification_mail_service.record(session, caller, notification_id, outcome)
