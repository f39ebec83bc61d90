"""A creator's notifications, as the gateway calls the catalogue for them."""

from gateway.accounts.service import Principal
from gateway.clients.base import ServiceApi
from services.contracts.catalogue import NotificationPage, NotificationSettings, NotificationsRead


class NotificationsClient(ServiceApi):
    async def page(self, principal: Principal, first: int) -> NotificationPage:
        return await self._model(
            NotificationPage, principal, "GET", "/v1/notifications", params={"first": first}
        )

    async def mark_read(
        self, principal: Principal, marked: NotificationsRead, first: int
    ) -> NotificationPage:
        return await self._model(
            NotificationPage,
            principal,
            "POST",
            "/v1/notifications/read",
            body=marked,
            params={"first": first},
        )

    async def settings(self, principal: Principal) -> NotificationSettings:
        return await self._model(
            NotificationSettings, principal, "GET", "/v1/notification-settings"
        )

    async def set_settings(
        self, principal: Principal, wanted: NotificationSettings
    ) -> NotificationSettings:
        return await self._model(
            NotificationSettings, principal, "PUT", "/v1/notification-settings", body=wanted
        )
