"""Reading a person's notifications through the gateway, waiting for the relay."""

import asyncio
import time
from typing import Any

from tests.fixtures.graphql import GraphQLClient

NOTIFICATIONS = """{ notifications { __typename ... on NotificationList {
  unread items { id kind text invitationId amountMinor currency readAt } } } }"""
MARK_READ = """mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) { __typename
  ... on NotificationList { unread items { id readAt } } } }"""


async def notified(
    gateway: GraphQLClient, key: str, kind: str, *, count: int = 1, within: float = 60.0
) -> list[dict[str, Any]]:
    """The person's notifications of `kind`, once `count` of them have arrived."""
    deadline = time.monotonic() + within
    while True:
        answer = (await gateway.execute(NOTIFICATIONS, key=key))["notifications"]
        assert answer["__typename"] == "NotificationList", answer
        found = [item for item in answer["items"] if item["kind"] == kind]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.3)
