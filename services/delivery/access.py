"""Who may see a delivery: the check every read and download makes first."""

import uuid

from services.contracts.roles import Role
from services.delivery.models import Delivery
from services.kit.internal_token import Caller


def account_id(caller: Caller) -> uuid.UUID | None:
    """The caller's account, or None for a caller that is not an account (a service)."""
    try:
        return uuid.UUID(caller.subject)
    except ValueError:
        return None


def sees_every_delivery(caller: Caller) -> bool:
    return caller.has(Role.ADMIN, Role.AUDITOR, Role.SERVICE)


def may_see(delivery: Delivery, caller: Caller) -> bool:
    return sees_every_delivery(caller) or delivery.buyer_id == account_id(caller)
