"""Payout runs: every creator owed at least the minimum, with a confirmed account, is paid
what they are owed, by SEPA credit transfer.

A run is stepped by a worker, a batch of creators per committed step: each creator paid
gets a payment row and, in the same transaction, the ledger moves the amount from what
they are owed to "in payment". A crash loses at most the step under way, which the run
does again; a creator already paid by the run has a row, and no money left to move, so
nobody is paid twice. One run per currency runs at a time: starting another answers it.
When every creator is decided, the payments are written as pain.001 files of at most
`file_transfers` each, a file per step, and the run is ready.
"""

import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.contracts.licensing import (
    LedgerAccountKind,
    PaymentState,
    PayoutFileRead,
    PayoutRunIn,
    PayoutRunRead,
    PayoutRunState,
    TransactionKind,
)
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import NotFound
from services.kit.internal_token import Caller, require_role
from services.kit.worker import PollingWorker
from services.licensing.errors import PayoutsOff
from services.licensing.ledger.service import LedgerService, creator_account
from services.licensing.ledger.transaction import Entry
from services.licensing.models import AccountKey
from services.licensing.payout.models import PayoutFile, PayoutPayment, PayoutRun
from services.licensing.payout.repository import PayoutRepository
from services.licensing.payout.sepa import Debtor, credit_transfers

log = structlog.get_logger()

SEPA_CURRENCY = "EUR"
SCHEDULER_ID = uuid.UUID(int=0)
"""Who recorded a scheduled run's ledger moves: no person did."""


def run_read(run: PayoutRun, files: Sequence[PayoutFile] = ()) -> PayoutRunRead:
    return PayoutRunRead(
        id=run.id,
        state=run.state,
        started_at=run.started_at,
        started_by=run.started_by,
        execution_date=run.execution_date,
        currency=run.currency,
        payments=run.payments,
        total_minor=run.total_minor,
        skipped_without_account=run.skipped_without_account,
        files=[
            PayoutFileRead(
                sequence=file.sequence,
                message_id=file.message_id,
                transfers=file.transfers,
                total_minor=file.total_minor,
            )
            for file in files
        ],
    )


def in_payment(creator_id: uuid.UUID, currency: str) -> AccountKey:
    return AccountKey(LedgerAccountKind.IN_PAYMENT, creator_id, currency)


class PayoutRunService:
    def __init__(
        self,
        ledger: LedgerService,
        debtor: Debtor | None,
        *,
        minimums: dict[str, int],
        batch: int,
        file_transfers: int,
    ) -> None:
        self._ledger = ledger
        self._debtor = debtor
        self._minimums = minimums
        self._batch = batch
        self._file_transfers = file_transfers

    @property
    def configured(self) -> bool:
        return self._debtor is not None

    def _require_debtor(self) -> Debtor:
        if self._debtor is None:
            raise PayoutsOff("no platform bank account is configured to pay from")
        return self._debtor

    async def start(
        self, session: AsyncSession, caller: Caller | None, run_in: PayoutRunIn
    ) -> PayoutRunRead:
        """A new run (admins, or the schedule), or the one already running."""
        started_by = None
        if caller is not None:
            require_role(caller, Role.ADMIN)
            started_by = caller.account_id
        self._require_debtor()
        payouts = PayoutRepository(session)
        if (running := await payouts.running(SEPA_CURRENCY)) is not None:
            return run_read(running)
        now = utcnow()
        run = PayoutRun(
            id=uuid.uuid4(),
            currency=SEPA_CURRENCY,
            state=PayoutRunState.RUNNING,
            started_at=now,
            started_by=started_by,
            execution_date=run_in.execution_date or (now + timedelta(days=1)).date(),
            minimum_minor=self._minimums.get(SEPA_CURRENCY, 1),
            payments=0,
            total_minor=0,
            skipped_without_account=0,
        )
        try:
            async with session.begin_nested():
                session.add(run)
        except IntegrityError:
            # Another start won the race: its run is the one running.
            if (running := await payouts.running(SEPA_CURRENCY)) is not None:
                return run_read(running)
            raise
        log.info("payout.run.started", run_id=str(run.id))
        return run_read(run)

    async def step(self, session: AsyncSession) -> int:
        """Decide on the next batch of creators of the oldest running run, or write its
        next file, or mark it ready. Returns how much it did (0 when no run was running)."""
        payouts = PayoutRepository(session)
        run = await payouts.next_running()
        if run is None:
            return 0
        if run.decided:
            return await self._file(session, run)
        owed, last = await payouts.owed_after(run.currency, run.decided_through, self._batch)
        if last is None:
            run.decided = True
            await session.flush()
            return 1
        due = [one for one in owed if one.amount_minor >= run.minimum_minor]
        accounts = await payouts.accounts_in_force([one.creator_id for one in due], run.started_at)
        entries: list[Entry] = []
        for one in due:
            account = accounts.get(one.creator_id)
            if account is None:
                run.skipped_without_account += 1
                continue
            session.add(
                PayoutPayment(
                    run_id=run.id,
                    creator_id=one.creator_id,
                    end_to_end_id=f"A-{uuid.uuid4().hex}",
                    account_id=account.id,
                    holder=account.holder,
                    iban=account.iban,
                    bic=account.bic,
                    amount_minor=one.amount_minor,
                    currency=run.currency,
                    state=PaymentState.IN_PAYMENT,
                )
            )
            entries.append(
                Entry(creator_account(one.creator_id, run.currency), -one.amount_minor, None)
            )
            entries.append(Entry(in_payment(one.creator_id, run.currency), one.amount_minor, None))
            run.payments += 1
            run.total_minor += one.amount_minor
        if entries:
            await self._ledger.record(
                session,
                kind=TransactionKind.PAYOUT_SENT,
                currency=run.currency,
                entries=entries,
                recorded_by=run.started_by or SCHEDULER_ID,
                reference=f"payout run {run.id}",
            )
        run.decided_through = last
        await session.flush()
        return len(owed)

    async def _file(self, session: AsyncSession, run: PayoutRun) -> int:
        """The next file of the run's payments, in end-to-end id order; none left: ready."""
        payments = await PayoutRepository(session).payments_after(
            run.id, run.filed_through, self._file_transfers
        )
        if not payments:
            run.state = PayoutRunState.READY
            await session.flush()
            log.info("payout.run.ready", run_id=str(run.id), payments=run.payments)
            return 1
        written = credit_transfers(
            self._require_debtor(), run.currency, run.execution_date, payments
        )
        run.files += 1
        run.filed_through = payments[-1].end_to_end_id
        session.add(
            PayoutFile(
                run_id=run.id,
                sequence=run.files,
                message_id=written.message_id,
                transfers=len(payments),
                total_minor=sum(payment.amount_minor for payment in payments),
                xml=written.xml,
            )
        )
        await session.flush()
        return len(payments)

    async def get(self, session: AsyncSession, caller: Caller, run_id: uuid.UUID) -> PayoutRunRead:
        require_role(caller, Role.ADMIN, Role.AUDITOR)
        run = await session.get(PayoutRun, run_id)
        if run is None:
            raise NotFound("no such payout run")
        return run_read(run, await PayoutRepository(session).files(run.id))

    async def file(
        self, session: AsyncSession, caller: Caller, run_id: uuid.UUID, sequence: int
    ) -> str:
        require_role(caller, Role.ADMIN, Role.AUDITOR)
        found = await session.get(PayoutFile, (run_id, sequence))
        if found is None:
            raise NotFound("no such file of a payout run")
        return found.xml


class PayoutRunner:
    """Steps running runs, and starts one on schedule when `every` is set."""

    def __init__(
        self,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        runs: PayoutRunService,
        *,
        every: timedelta | None,
        poll_seconds: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._runs = runs
        self._every = every
        self.worker = PollingWorker(
            self.step, name="payout-runner", poll_seconds=poll_seconds, batch_size=1
        )

    async def step(self) -> int:
        async with self._sessionmaker()() as session, session.begin():
            await self._start_when_due(session)
            return await self._runs.step(session)

    async def _start_when_due(self, session: AsyncSession) -> None:
        if self._every is None or not self._runs.configured:
            return
        latest = await PayoutRepository(session).latest_started()
        if latest is None or utcnow() - latest >= self._every:
            await self._runs.start(session, None, PayoutRunIn())
