"""Licensing's business outcomes, each rendered with its own name by the kit's handler.

The gateway maps these names to its typed GraphQL errors, so they are part of the contract.
"""

from services.kit.errors import Conflict, Forbidden, InvalidRequest


class QuoteExpired(Conflict):
    """The quote's price lock has run out; quote the bundle again."""


class QuotePurchased(Conflict):
    """The quote was already bought under another idempotency key."""


class NothingToPurchase(Conflict):
    """Every work of the quote was excluded: there is nothing to license."""


class InsufficientFunds(Conflict):
    """The balance does not cover the amount; nothing was charged."""


class IdempotencyKeyReused(Conflict):
    """The idempotency key already bought another quote."""


class LicenceRefunded(Conflict):
    """The licence has already been refunded."""


class ReferenceReused(Conflict):
    """The payment's reference already recorded another payment (another account, amount
    or currency); nothing was recorded."""


class LicenceNotUsable(Conflict):
    """The licence was refunded or revoked: nothing of it may be used or revoked again."""


class ModelsCapReached(Conflict):
    """A work's terms allow it in at most so many models, all already trained; the run
    was refused, and the refusal logged."""


class TrainingKeyRejected(Forbidden):
    """The receipt is signed with a key that is not one of the lab's own, unrevoked keys,
    or its signature does not match the statement."""


class RunIdReused(Conflict):
    """The run id already recorded another statement."""


class CardPaymentsOff(Conflict):
    """No card provider is configured here: top up by bank transfer instead."""


class CardEventRejected(InvalidRequest):
    """The provider's event is not one it signed with this endpoint's secret, or it was
    signed too long ago (a replay): nothing was credited."""


class PayoutsOff(Conflict):
    """No platform bank account is configured: payout runs cannot be paid from anywhere."""


class BankStatementRejected(InvalidRequest):
    """An entry of the bank statement cannot be applied (an unknown reference, an entry
    already imported, another currency or amount than the transfer's): nothing of the
    statement was applied."""
