"""The audit log's refusals, each rendered with its own name by the kit's handler."""

from typing import ClassVar

from services.kit.errors import AssentError, NotFound


class NoCheckpoint(NotFound):
    """The log has signed no checkpoint yet: there is nothing to prove against."""


class LogDamaged(AssentError):
    """A hash a proof needs is missing from the log's store: the log itself is damaged."""

    status_code: ClassVar[int] = 500
