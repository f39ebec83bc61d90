"""What crosses HTTP between licensing and its callers (the gateway, delivery, audit).

Money is integer minor units with an ISO 4217 currency. The buyer pays the quoted price;
the platform fee is taken out of it (`platform_fee_bps` of each line, rounded down) and the
rest is split among the work's co-creators by their shares.
"""

from services.contracts.licensing._base import (
    LICENCE_CERTIFICATE_TYPE,
    MAX_AMOUNT_MINOR,
    MAX_BUNDLE_WORKS,
    Currency,
    IdempotencyKey,
    Reference,
    Schema,
)
from services.contracts.licensing._bundle import BundleCreate, BundlePage, BundleRead, BundleSource
from services.contracts.licensing._certificate import (
    CertificateLine,
    CertificateRead,
    LicenceCertificate,
)
from services.contracts.licensing._earnings import (
    EarningLine,
    EarningsQuery,
    EarningsRead,
    PayoutRead,
    Period,
    PeriodEarnings,
    WorkEarnings,
)
from services.contracts.licensing._events import (
    LedgerRecorded,
    LicenceGranted,
    LicenceRefunded,
    LicenceRevoked,
    SaleScopeRecorded,
)
from services.contracts.licensing._ledger import (
    BalanceRead,
    LedgerAccountKind,
    LedgerCheck,
    MoneyIn,
    PayoutIn,
    PostingRead,
    TopUpIn,
    TransactionKind,
    TransactionRead,
)
from services.contracts.licensing._licence import (
    LicenceLineRead,
    LicenceLineStatus,
    LicencePage,
    LicenceRead,
    LicenceStatus,
    PurchaseIn,
    PurchaseRead,
    RefundIn,
)
from services.contracts.licensing._quote import (
    ExclusionReason,
    QuoteExclusion,
    QuoteIn,
    QuoteLine,
    QuoteRead,
    QuoteStatus,
    ShareLine,
)

__all__ = [
    "LICENCE_CERTIFICATE_TYPE",
    "MAX_AMOUNT_MINOR",
    "MAX_BUNDLE_WORKS",
    "BalanceRead",
    "BundleCreate",
    "BundlePage",
    "BundleRead",
    "BundleSource",
    "CertificateLine",
    "CertificateRead",
    "Currency",
    "EarningLine",
    "EarningsQuery",
    "EarningsRead",
    "ExclusionReason",
    "IdempotencyKey",
    "LedgerAccountKind",
    "LedgerCheck",
    "LedgerRecorded",
    "LicenceCertificate",
    "LicenceGranted",
    "LicenceLineRead",
    "LicenceLineStatus",
    "LicencePage",
    "LicenceRead",
    "LicenceRefunded",
    "LicenceRevoked",
    "LicenceStatus",
    "MoneyIn",
    "PayoutIn",
    "PayoutRead",
    "Period",
    "PeriodEarnings",
    "PostingRead",
    "PurchaseIn",
    "PurchaseRead",
    "QuoteExclusion",
    "QuoteIn",
    "QuoteLine",
    "QuoteRead",
    "QuoteStatus",
    "Reference",
    "RefundIn",
    "SaleScopeRecorded",
    "Schema",
    "ShareLine",
    "TopUpIn",
    "TransactionKind",
    "TransactionRead",
    "WorkEarnings",
]
