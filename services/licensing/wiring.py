"""The licensing services that hold process-wide state, built once per app."""

from dataclasses import dataclass

from services.licensing.config import Settings
from services.licensing.invoice.service import Invoicing
from services.licensing.ledger.known_accounts import KnownAccounts
from services.licensing.ledger.payments import PaymentService
from services.licensing.ledger.service import LedgerService
from services.licensing.licence.service import LicenceService


@dataclass(frozen=True, slots=True)
class LicensingServices:
    """Every service that writes to the ledger shares the app's `KnownAccounts`."""

    ledger: LedgerService
    payments: PaymentService
    licences: LicenceService

    @classmethod
    def build(
        cls, known_accounts: KnownAccounts, invoicing: Invoicing | None = None
    ) -> "LicensingServices":
        ledger = LedgerService(known_accounts)
        return cls(
            ledger=ledger,
            payments=PaymentService(ledger),
            licences=LicenceService(ledger, invoicing or Invoicing.from_settings(Settings())),
        )
