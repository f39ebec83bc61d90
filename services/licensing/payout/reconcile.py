"""A bank statement applied to the ledger, whole or not at all.

Each booked entry must be one of:
- a debit naming a run's transfer (its end-to-end id): the transfer was executed, and the
  money moves from "in payment" to paid;
- a credit naming a run's transfer, with the bank's return information: the transfer came
  back, the money goes back to what the creator is owed, and the creator sees the reason;
- a credit quoting a lab's creditor reference: a top-up by bank transfer, credited once
  by the bank's reference for the entry.

Every entry is checked before anything is applied: an unknown reference, an entry
already imported or repeated, or another currency or amount than its transfer's refuses
the whole statement with each problem named. The same statement imported again answers
the first import and changes nothing.
"""

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import iso11649

from services.contracts.licensing import (
    BankStatementIn,
    BankStatementRead,
    LedgerAccountKind,
    PaymentState,
    TopUpIn,
    TransactionKind,
)
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import FieldError
from services.kit.internal_token import Caller, require_role
from services.licensing.errors import BankStatementRejected
from services.licensing.ledger.payments import PaymentService
from services.licensing.ledger.service import LedgerService, creator_account
from services.licensing.ledger.transaction import Entry
from services.licensing.models import AccountKey
from services.licensing.payout.bank import BankLine, Direction, read_statement
from services.licensing.payout.models import (
    BankEntry,
    BankReference,
    BankStatement,
    PayoutPayment,
)
from services.licensing.payout.repository import PayoutRepository
from services.licensing.payout.runs import in_payment
from services.licensing.rules import require_account

CREDITOR_REFERENCE = re.compile(r"RF\d{2}[0-9A-Z ]{1,25}", re.IGNORECASE)

# The ISO 20022 return reasons banks most often give for a returned credit transfer,
# in words a creator can act on.
RETURN_REASONS = {
    "AC01": "the account number is wrong",
    "AC03": "the account number is wrong",
    "AC04": "the account is closed",
    "AC06": "the account is blocked",
    "AG01": "the account does not accept this transfer",
    "AM05": "the transfer was a duplicate",
    "BE04": "the holder's address is missing",
    "MD07": "the account holder is deceased",
    "MS02": "the account holder refused it",
    "MS03": "the bank gave no reason",
    "RC01": "the bank code (BIC) is wrong",
    "RR01": "the holder's account or identity details are missing",
}


def reason_in_words(code: str) -> str:
    return f"{code}: {RETURN_REASONS.get(code.upper(), 'returned by the bank')}"


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the statement will do, decided before any of it is done."""

    paid: list[tuple[BankLine, PayoutPayment]]
    returned: list[tuple[BankLine, PayoutPayment]]
    top_ups: list[tuple[BankLine, uuid.UUID]]


def _reference_in(remittance: str) -> str | None:
    for candidate in CREDITOR_REFERENCE.findall(remittance.upper()):
        reference = iso11649.compact(candidate)
        if iso11649.is_valid(reference):
            return str(reference)
    return None


class Reconciliation:
    def __init__(self, ledger: LedgerService, payments: PaymentService) -> None:
        self._ledger = ledger
        self._payments = payments

    async def import_statement(
        self, session: AsyncSession, caller: Caller, statement_in: BankStatementIn
    ) -> BankStatementRead:
        require_role(caller, Role.ADMIN)
        admin_id = require_account(caller)
        statement = read_statement(statement_in.format, statement_in.content)
        earlier = await session.scalar(
            select(BankStatement).where(BankStatement.statement_id == statement.statement_id)
        )
        if earlier is not None:
            return self._read(earlier, replayed=True)
        plan = await self._plan(session, statement.lines)
        imported = BankStatement(
            id=uuid.uuid4(),
            statement_id=statement.statement_id,
            imported_at=utcnow(),
            imported_by=admin_id,
            paid=len(plan.paid),
            returned=len(plan.returned),
            credited=len(plan.top_ups),
        )
        session.add(imported)
        await session.flush()
        await self._apply(session, caller, admin_id, plan)
        for line in statement.lines:
            session.add(
                BankEntry(
                    entry_reference=line.entry_reference,
                    statement_id=imported.id,
                    matched=line.end_to_end_id or _reference_in(line.remittance) or "",
                    amount_minor=line.amount_minor,
                    currency=line.currency,
                )
            )
        await session.flush()
        return self._read(imported, replayed=False)

    async def _plan(self, session: AsyncSession, lines: list[BankLine]) -> _Plan:
        problems: list[FieldError] = []
        references = [line.entry_reference for line in lines]
        seen: set[str] = set()
        for reference in references:
            if reference in seen:
                problems.append(
                    _problem(reference, "appears twice in the statement", "duplicate_entry")
                )
            seen.add(reference)
        imported = set(
            await session.scalars(
                select(BankEntry.entry_reference).where(BankEntry.entry_reference.in_(seen))
            )
        )
        problems.extend(
            _problem(reference, "was imported before", "duplicate_entry")
            for reference in sorted(imported)
        )
        transfers = await PayoutRepository(session).payments_by_end_to_end(
            [line.end_to_end_id for line in lines if line.end_to_end_id]
        )
        quoted = {found for line in lines if (found := _reference_in(line.remittance))}
        banked = {
            row.reference: row.buyer_id
            for row in await session.scalars(
                select(BankReference).where(BankReference.reference.in_(quoted))
            )
        }
        plan = _Plan(paid=[], returned=[], top_ups=[])
        for line in lines:
            payment = transfers.get(line.end_to_end_id or "")
            if payment is not None:
                problems.extend(self._place_transfer(line, payment, plan))
                continue
            quoting = _reference_in(line.remittance)
            if line.direction is Direction.CREDIT and quoting in banked:
                plan.top_ups.append((line, banked[str(quoting)]))
                continue
            problems.append(
                _problem(
                    line.entry_reference,
                    "names no transfer or lab reference of ours",
                    "unknown_reference",
                )
            )
        if problems:
            raise BankStatementRejected(
                f"{len(problems)} entries of the statement cannot be applied; nothing was",
                fields=problems,
            )
        return plan

    def _place_transfer(
        self, line: BankLine, payment: PayoutPayment, plan: _Plan
    ) -> list[FieldError]:
        if line.currency != payment.currency:
            return [
                _problem(
                    line.entry_reference,
                    f"is in {line.currency}, its transfer in {payment.currency}",
                    "wrong_currency",
                )
            ]
        if line.amount_minor != payment.amount_minor:
            return [_problem(line.entry_reference, "is not its transfer's amount", "wrong_amount")]
        if line.direction is Direction.DEBIT and payment.state is PaymentState.IN_PAYMENT:
            plan.paid.append((line, payment))
            return []
        if line.direction is Direction.CREDIT and payment.state is not PaymentState.RETURNED:
            plan.returned.append((line, payment))
            return []
        return [
            _problem(
                line.entry_reference, f"its transfer is already {payment.state}", "already_settled"
            )
        ]

    async def _apply(
        self, session: AsyncSession, caller: Caller, admin_id: uuid.UUID, plan: _Plan
    ) -> None:
        now = utcnow()
        for currency in sorted({payment.currency for _, payment in plan.paid}):
            entries: list[Entry] = []
            for _, payment in plan.paid:
                if payment.currency == currency:
                    entries.append(
                        Entry(in_payment(payment.creator_id, currency), -payment.amount_minor, None)
                    )
                    entries.append(
                        Entry(
                            AccountKey(LedgerAccountKind.PAYOUTS, None, currency),
                            payment.amount_minor,
                            None,
                        )
                    )
                    payment.state = PaymentState.PAID
                    payment.settled_at = now
            await self._ledger.record(
                session,
                kind=TransactionKind.PAYOUT_SETTLED,
                currency=currency,
                entries=entries,
                recorded_by=admin_id,
            )
        for line, payment in plan.returned:
            # From "in payment", or from paid when the receiving bank sent it back later.
            source = (
                in_payment(payment.creator_id, payment.currency)
                if payment.state is PaymentState.IN_PAYMENT
                else AccountKey(LedgerAccountKind.PAYOUTS, None, payment.currency)
            )
            await self._ledger.record(
                session,
                kind=TransactionKind.PAYOUT_RETURNED,
                currency=payment.currency,
                entries=[
                    Entry(source, -payment.amount_minor, None),
                    Entry(
                        creator_account(payment.creator_id, payment.currency),
                        payment.amount_minor,
                        None,
                    ),
                ],
                recorded_by=admin_id,
                reference=f"returned {payment.end_to_end_id}",
            )
            payment.state = PaymentState.RETURNED
            payment.return_reason = reason_in_words(line.return_reason or "unknown")
            payment.settled_at = now
        for line, buyer_id in plan.top_ups:
            await self._payments.top_up(
                session,
                caller,
                TopUpIn(
                    buyer_id=buyer_id,
                    amount_minor=line.amount_minor,
                    currency=line.currency,
                    reference=f"bank:{line.entry_reference}",
                ),
            )
        await session.flush()

    def _read(self, statement: BankStatement, *, replayed: bool) -> BankStatementRead:
        return BankStatementRead(
            id=statement.id,
            statement_id=statement.statement_id,
            imported_at=statement.imported_at,
            paid=statement.paid,
            returned=statement.returned,
            credited=statement.credited,
            replayed=replayed,
        )


def _problem(reference: str, message: str, code: str) -> FieldError:
    return FieldError(f"entries.{reference}", f"entry {reference} {message}", code)
