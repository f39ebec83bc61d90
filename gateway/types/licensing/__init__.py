"""Licensing's GraphQL types: bundles, quotes, licences, the ledger and creators' earnings."""

from gateway.types.licensing._bundle import (
    Bundle,
    BundleConnection,
    BundleCreated,
    BundleResult,
    BundlesResult,
    CreateBundleResult,
)
from gateway.types.licensing._common import Period, money
from gateway.types.licensing._earnings import Earnings, EarningsResult
from gateway.types.licensing._ledger import (
    Balance,
    Balances,
    BalancesResult,
    LedgerCheck,
    LedgerCheckResult,
    LedgerTransaction,
    MoneyRecorded,
    RecordMoneyResult,
)
from gateway.types.licensing._licence import (
    Licence,
    LicenceConnection,
    LicenceRefunded,
    LicenceResult,
    LicenceRevoked,
    LicencesResult,
    PurchaseResult,
    PurchaseSucceeded,
    RefundLicenceResult,
    RevokeLicenceResult,
)
from gateway.types.licensing._quote import Quote, QuoteBundleResult, QuoteIssued, QuoteResult

__all__ = [
    "Balance",
    "Balances",
    "BalancesResult",
    "Bundle",
    "BundleConnection",
    "BundleCreated",
    "BundleResult",
    "BundlesResult",
    "CreateBundleResult",
    "Earnings",
    "EarningsResult",
    "LedgerCheck",
    "LedgerCheckResult",
    "LedgerTransaction",
    "Licence",
    "LicenceConnection",
    "LicenceRefunded",
    "LicenceResult",
    "LicenceRevoked",
    "LicencesResult",
    "MoneyRecorded",
    "Period",
    "PurchaseResult",
    "PurchaseSucceeded",
    "Quote",
    "QuoteBundleResult",
    "QuoteIssued",
    "QuoteResult",
    "RecordMoneyResult",
    "RefundLicenceResult",
    "RevokeLicenceResult",
    "money",
]
