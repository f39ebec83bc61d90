"""Delivery's refusals, each rendered with its own name by the kit's handler."""

from typing import ClassVar

from services.kit.errors import AssentError, Conflict


class DeliveryNotReady(Conflict):
    """The delivery is still being built: its manifest and files come once it is issued."""


class DeliveryEmpty(Conflict):
    """Every work was left out of the delivery (and refunded): there is no manifest."""


class LicenceRevoked(AssentError):
    """The licence was refunded: none of its files may be fetched any more."""

    status_code: ClassVar[int] = 410


class LicenceExpired(AssentError):
    """The licence of this file has ended."""

    status_code: ClassVar[int] = 410
