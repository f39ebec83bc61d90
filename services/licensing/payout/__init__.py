"""Creators' payouts by SEPA transfer, bank statements read back, labs' bank references."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.mail import Mailer
from services.licensing.config import Settings
from services.licensing.payout.accounts import ConfirmationCodes, PayoutAccountService
from services.licensing.payout.mail import ConfirmationMailer
from services.licensing.payout.reconcile import Reconciliation
from services.licensing.payout.references import BankReferences
from services.licensing.payout.runs import PayoutRunner, PayoutRunService
from services.licensing.payout.sepa import Debtor
from services.licensing.wiring import LicensingServices


@dataclass(frozen=True, slots=True)
class Payouts:
    accounts: PayoutAccountService
    runs: PayoutRunService
    reconciliation: Reconciliation
    references: BankReferences
    mailer: ConfirmationMailer
    runner: PayoutRunner

    @classmethod
    def build(
        cls,
        settings: Settings,
        licensing: LicensingServices,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
    ) -> "Payouts":
        debtor = (
            Debtor(settings.bank_holder, settings.bank_iban, settings.bank_bic)
            if settings.bank_iban
            else None
        )
        codes = ConfirmationCodes(settings.signing_key)
        runs = PayoutRunService(
            licensing.ledger,
            debtor,
            minimums=settings.payout_minimums,
            batch=settings.payout_batch,
            file_transfers=settings.payout_file_transfers,
        )
        return cls(
            accounts=PayoutAccountService(codes),
            runs=runs,
            reconciliation=Reconciliation(licensing.ledger, licensing.payments),
            references=BankReferences(debtor),
            mailer=ConfirmationMailer(
                sessionmaker,
                Mailer(settings.mail()),
                codes,
                portal_url=settings.portal_url,
                poll_seconds=settings.payout_poll_seconds,
            ),
            runner=PayoutRunner(
                sessionmaker,
                runs,
                every=timedelta(hours=settings.payout_every_hours)
                if settings.payout_every_hours
                else None,
                poll_seconds=settings.payout_poll_seconds,
            ),
        )
