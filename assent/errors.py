"""The SDK's exceptions: one per expected failure of the GraphQL API, under `AssentError`.

A union member of the answer (`NotFound`, `QuoteExpired`, ...) becomes the exception of
the same name; so do the HTTP answers the gateway gives before any resolver runs (401:
`Unauthenticated`, 429: `RateLimited`), and a gateway that cannot be reached or answers
5xx becomes `ServiceUnavailable` once the client has stopped retrying.
"""

from dataclasses import dataclass


class AssentError(Exception):
    """Anything the marketplace refused or could not do; `message` is the gateway's."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        # Set when a purchase failed: buying the same quote again under this key can
        # never charge twice, whatever became of the failed attempt.
        self.quote_id: str | None = None
        self.idempotency_key: str | None = None


class NotFound(AssentError):
    """No such thing, or not one the caller may see."""


class Forbidden(AssentError):
    """The caller's roles do not allow it."""


class Unauthenticated(AssentError):
    """No API key, or one that is unknown or revoked."""


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str
    code: str


class ValidationFailed(AssentError):
    def __init__(self, message: str, fields: list[FieldError]) -> None:
        super().__init__(message)
        self.fields = fields

    def __str__(self) -> str:
        if not self.fields:
            return self.message
        problems = "; ".join(f"{f.field}: {f.message} ({f.code})" for f in self.fields)
        return f"{self.message}: {problems}"


class QuoteExpired(AssentError):
    """The quote's prices no longer hold: quote the bundle again."""


class InsufficientFunds(AssentError):
    """The prepaid balance is below the quote's total; nothing was charged."""


class ModelsCapReached(AssentError):
    """A work's terms allow it in at most so many models, all trained: the training run
    was refused, and the refusal logged."""


class Conflict(AssentError):
    """A business rule refused it; `code` names which (e.g. `IdempotencyKeyReused`,
    `QuotePurchased`, `NothingToPurchase`)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ServiceUnavailable(AssentError):
    """The gateway, or a service behind it, did not answer; trying later may succeed."""

    def __init__(self, message: str, service: str) -> None:
        super().__init__(message)
        self.service = service


class RateLimited(AssentError):
    """Too many requests for this key; `retry_after` is the wait the gateway asks for."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryTimeout(AssentError, TimeoutError):
    """The delivery was still being built when the wait ended; waiting longer may do."""


class DownloadFailed(AssentError):
    """Nothing was downloaded: the delivery, its manifest or the keys could not be had,
    or the manifest failed verification."""


class BundleInvalid(AssentError):
    """A downloaded bundle that cannot be read as records: its manifest fails to verify,
    a file is missing or of the wrong size, or the licence's terms differ from the ones
    the manifest names."""


class UnexpectedResponse(AssentError):
    """An answer the SDK does not understand: a GraphQL error, or a type it does not know."""
