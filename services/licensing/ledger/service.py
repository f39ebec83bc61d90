"""The double-entry ledger: sale entries, recording transactions, balances, checks."""

import uuid
from collections.abc import Mapping, Sequence

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.events import Topic
from services.contracts.licensing import (
    BalanceRead,
    LedgerAccountKind,
    LedgerCheck,
    LedgerRecorded,
    QuoteLine,
    TransactionKind,
    TransactionRead,
)
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import FieldError, Forbidden, InvalidRequest
from services.kit.internal_token import Caller
from services.kit.outbox import emit_all
from services.licensing.ledger.known_accounts import KnownAccounts
from services.licensing.ledger.repository import LedgerRepository
from services.licensing.ledger.royalties import Share, split
from services.licensing.ledger.transaction import Entry, Transaction
from services.licensing.models import (
    AccountKey,
    LedgerPosting,
)

log = structlog.get_logger()


def _platform(currency: str) -> AccountKey:
    return AccountKey(LedgerAccountKind.PLATFORM_REVENUE, None, currency)


def _vat_payable(currency: str) -> AccountKey:
    return AccountKey(LedgerAccountKind.VAT_PAYABLE, None, currency)


def buyer_account(buyer_id: uuid.UUID, currency: str) -> AccountKey:
    return AccountKey(LedgerAccountKind.BUYER_BALANCE, buyer_id, currency)


def creator_account(creator_id: uuid.UUID, currency: str) -> AccountKey:
    return AccountKey(LedgerAccountKind.CREATOR_PAYABLE, creator_id, currency)


def sale_entries(
    buyer_id: uuid.UUID,
    currency: str,
    lines: Sequence[QuoteLine],
    vat: Mapping[uuid.UUID, int] | None = None,
) -> list[Entry]:
    """The buyer pays the total and its VAT; each line pays its fee, its co-creators'
    royalties, and its VAT to the platform's VAT account (by work, so a line's refund
    reverses its VAT with it).

    A co-creator whose share of a line rounds to nothing gets no posting for it.
    """
    vat = vat or {}
    entries = [
        Entry(
            buyer_account(buyer_id, currency),
            -sum(line.price_minor + vat.get(line.work_id, 0) for line in lines),
            None,
        )
    ]
    for line in lines:
        if vat.get(line.work_id):
            entries.append(Entry(_vat_payable(currency), vat[line.work_id], line.work_id))
        if line.platform_fee_minor:
            entries.append(Entry(_platform(currency), line.platform_fee_minor, line.work_id))
        royalties = split(
            line.price_minor - line.platform_fee_minor,
            [Share(share.creator_id, share.basis_points) for share in line.shares],
        )
        entries.extend(
            Entry(creator_account(royalty.creator_id, currency), royalty.amount_minor, line.work_id)
            for royalty in royalties
            if royalty.amount_minor
        )
    return entries


def reversal(postings: Sequence[LedgerPosting]) -> list[Entry]:
    return [
        Entry(posting.account.key, -posting.amount_minor, posting.work_id) for posting in postings
    ]


class LedgerService:
    def __init__(self, known_accounts: KnownAccounts) -> None:
        self.known_accounts = known_accounts

    async def record(
        self,
        session: AsyncSession,
        *,
        kind: TransactionKind,
        currency: str,
        entries: Sequence[Entry],
        recorded_by: uuid.UUID,
        licence_id: uuid.UUID | None = None,
        reference: str | None = None,
        dedupe_key: str | None = None,
        events: Sequence[tuple[Topic, BaseModel]] = (),
        transaction_id: uuid.UUID | None = None,
    ) -> TransactionRead:
        """Write one balanced transaction and announce it (`ledger.recorded`), after
        `events`: those of the change it belongs to, written in the same statement.

        A buyer's stored balance moves with its postings; the caller holds its lock
        wherever the balance was checked first.
        """
        if not entries or sum(entry.amount_minor for entry in entries) != 0:
            raise ValueError("a ledger transaction needs postings that sum to zero")
        if any(entry.account.currency != currency for entry in entries):
            raise ValueError("a ledger transaction has one currency")
        ledger = LedgerRepository(session)
        await ledger.ensure_accounts({entry.account for entry in entries}, self.known_accounts)
        stored: dict[uuid.UUID, int] = {}
        for entry in entries:
            if entry.account.kind == LedgerAccountKind.BUYER_BALANCE:
                stored[entry.account.id] = stored.get(entry.account.id, 0) + entry.amount_minor
        for account, amount in sorted(stored.items()):
            await ledger.add_to_stored_balance(account, amount)
        transaction = Transaction(
            id=transaction_id or uuid.uuid4(),
            kind=kind,
            currency=currency,
            entries=entries,
            recorded_by=recorded_by,
            recorded_at=utcnow(),
            licence_id=licence_id,
            reference=reference,
            dedupe_key=dedupe_key,
        )
        await ledger.add(transaction)
        read = transaction.read()
        await emit_all(
            session, [*events, (Topic.LEDGER_RECORDED, LedgerRecorded(transaction=read))]
        )
        return read

    async def balances(
        self, session: AsyncSession, caller: Caller, owner_id: uuid.UUID | None
    ) -> list[BalanceRead]:
        me = caller.account_id
        owner = owner_id or me
        if owner is None:
            raise InvalidRequest(
                "say whose balances", fields=[FieldError("owner_id", "required", "required")]
            )
        if owner != me and not caller.has(Role.ADMIN, Role.AUDITOR):
            raise Forbidden("only admins and auditors see others' balances")
        return [
            BalanceRead(
                owner_id=owner,
                account_kind=balance.kind,
                currency=balance.currency,
                balance_minor=balance.balance_minor,
            )
            for balance in await LedgerRepository(session).balances(owner_id=owner)
        ]

    async def check(self, session: AsyncSession) -> LedgerCheck:
        ledger = LedgerRepository(session)
        return LedgerCheck(
            transactions=await ledger.count_transactions(),
            unbalanced_transactions=await ledger.unbalanced_transactions(),
            mixed_currency_transactions=await ledger.mixed_currency_transactions(),
            balance_mismatches=[
                f"{key.kind} {key.owner_id} {key.currency}: stored {stored}, postings {posted}"
                for key, stored, posted in await ledger.stored_balance_mismatches()
            ],
            negative_buyer_balances=await ledger.negative_buyer_balances(),
            totals=await ledger.totals_by_currency(),
        )
