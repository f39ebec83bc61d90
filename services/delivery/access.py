"""Who may see a delivery: the check every read and download makes first."""

from services.delivery.models import Delivery
from services.kit.internal_token import Caller


def may_see(delivery: Delivery, caller: Caller) -> bool:
    return caller.sees_everything or delivery.buyer_id == caller.account_id
