"""Money entering and leaving the marketplace: buyers' top-ups and creators' payouts.

Each is idempotent by its payment's reference, so an admin who retries a call that went
unanswered moves the money once: the same reference answers the transaction it recorded,
and a different payment under it (another account, amount or currency) is refused.
Lock order: the reference first (racers under it wait there), then the account.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.licensing import (
    LedgerAccountKind,
    PayoutIn,
    TopUpIn,
    TransactionKind,
    TransactionRead,
)
from services.kit.internal_token import Caller
from services.licensing.errors import InsufficientFunds, ReferenceReused
from services.licensing.ledger.accounts import account_service
from services.licensing.ledger.references import LedgerReferenceRepository
from services.licensing.ledger.repository import LedgerRepository
from services.licensing.ledger.service import LedgerService, buyer_account, creator_account
from services.licensing.ledger.transaction import Entry
from services.licensing.models import AccountKey, LedgerReference
from services.licensing.rules import check_currency, require_account


class PaymentService:
    def __init__(self, ledger: LedgerService) -> None:
        self.ledger = ledger

    async def top_up(
        self, session: AsyncSession, caller: Caller, top_up: TopUpIn
    ) -> TransactionRead:
        """Money received from a buyer, credited to their prepaid balance."""
        check_currency(top_up.currency)
        admin_id = require_account(caller)
        return await self._credit(session, caller, top_up, recorded_by=admin_id)

    async def credit_card_payment(
        self, session: AsyncSession, caller: Caller, top_up: TopUpIn
    ) -> TransactionRead:
        """A card payment the provider confirmed: the buyer paid it themselves, so the
        transaction is recorded by them."""
        check_currency(top_up.currency)
        return await self._credit(session, caller, top_up, recorded_by=top_up.buyer_id)

    async def _credit(
        self, session: AsyncSession, caller: Caller, top_up: TopUpIn, *, recorded_by: uuid.UUID
    ) -> TransactionRead:
        await account_service.require_buyer(session, caller, top_up)
        claim = self._claim(TransactionKind.TOP_UP, top_up.buyer_id, top_up)
        if (earlier := await LedgerReferenceRepository(session).claim(claim)) is not None:
            return await self._replay(session, earlier, claim)
        funding = AccountKey(LedgerAccountKind.FUNDING, None, top_up.currency)
        transaction = await self.ledger.record(
            session,
            kind=TransactionKind.TOP_UP,
            currency=top_up.currency,
            entries=[
                Entry(funding, -top_up.amount_minor, None),
                Entry(buyer_account(top_up.buyer_id, top_up.currency), top_up.amount_minor, None),
            ],
            recorded_by=recorded_by,
            reference=top_up.reference,
            transaction_id=claim.transaction_id,
        )
        await session.flush()
        return transaction

    async def payout(
        self, session: AsyncSession, caller: Caller, payout: PayoutIn
    ) -> TransactionRead:
        """Money paid to a creator, never more than they are owed in that currency."""
        check_currency(payout.currency)
        admin_id = require_account(caller)
        claim = self._claim(TransactionKind.PAYOUT, payout.creator_id, payout)
        if (earlier := await LedgerReferenceRepository(session).claim(claim)) is not None:
            return await self._replay(session, earlier, claim)
        creator = creator_account(payout.creator_id, payout.currency)
        ledger = LedgerRepository(session)
        # The lock serialises this creator's payouts; sales only ever add to what is owed.
        owed = (
            await ledger.posted_balance(creator.id) if await ledger.lock_account(creator.id) else 0
        )
        if owed < payout.amount_minor:
            raise InsufficientFunds(
                f"the creator is owed {owed} {payout.currency}, less than {payout.amount_minor}"
            )
        transaction = await self.ledger.record(
            session,
            kind=TransactionKind.PAYOUT,
            currency=payout.currency,
            entries=[
                Entry(creator, -payout.amount_minor, None),
                Entry(
                    AccountKey(LedgerAccountKind.PAYOUTS, None, payout.currency),
                    payout.amount_minor,
                    None,
                ),
            ],
            recorded_by=admin_id,
            reference=payout.reference,
            transaction_id=claim.transaction_id,
        )
        await session.flush()
        return transaction

    def _claim(
        self, kind: TransactionKind, owner_id: uuid.UUID, money: TopUpIn | PayoutIn
    ) -> LedgerReference:
        return LedgerReference(
            kind=kind,
            reference=money.reference,
            owner_id=owner_id,
            amount_minor=money.amount_minor,
            currency=money.currency,
            transaction_id=uuid.uuid4(),
        )

    async def _replay(
        self, session: AsyncSession, earlier: LedgerReference, claim: LedgerReference
    ) -> TransactionRead:
        recorded = (earlier.owner_id, earlier.amount_minor, earlier.currency)
        if recorded != (claim.owner_id, claim.amount_minor, claim.currency):
            raise ReferenceReused(
                f"the reference {claim.reference!r} already recorded another {claim.kind}"
            )
        return await LedgerReferenceRepository(session).transaction(earlier.transaction_id)
