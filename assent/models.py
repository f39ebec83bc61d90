"""What the SDK returns: frozen pydantic models of the GraphQL API's types.

Fields are snake_case and read the API's camelCase; ids are the API's opaque strings.
Enumerations are the platform's own (`services.contracts`), whose values are the API's
names in lower case: `Use.TRAINING == "training"` is sent as `TRAINING`. Money is integer
minor units with its currency, never a float.
"""

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

from services.contracts import catalogue
from services.contracts.catalogue import MediaType, Use, WorkStatus
from services.contracts.delivery import DeliveryStatus
from services.contracts.licensing import (
    ExclusionReason,
    LicenceLineStatus,
    LicenceStatus,
    QuoteStatus,
)

__all__ = [
    "Account",
    "Balance",
    "Bundle",
    "Creator",
    "Delivery",
    "DeliveryExclusion",
    "Licence",
    "LicenceLine",
    "MediaType",
    "Money",
    "Offer",
    "Purchase",
    "Quote",
    "QuoteExclusion",
    "QuoteLine",
    "Share",
    "Terms",
    "Use",
    "Work",
]

# Currencies whose minor unit is not a hundredth (ISO 4217), for display only.
_MINOR_DIGITS = {"BHD": 3, "IQD": 3, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "OMR": 3, "TND": 3}


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


UseName = Annotated[Use, BeforeValidator(_lower)]
MediaTypeName = Annotated[MediaType, BeforeValidator(_lower)]
LineStatus = Annotated[LicenceLineStatus, BeforeValidator(_lower)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


def minor_digits(currency: str) -> int:
    return _MINOR_DIGITS.get(currency.upper(), 2)


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in the currency's units (`20.00` EUR) as integer minor units (2000); a
    fraction finer than the currency's minor unit is a ValueError, never rounded."""
    minor = amount.scaleb(minor_digits(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} {currency} is finer than the currency's smallest unit")
    return int(minor)


class Money(Model):
    amount_minor: int
    currency: str

    @property
    def amount(self) -> Decimal:
        """In the currency's units: Decimal("12.00") for 1200 EUR minor units."""
        digits = minor_digits(self.currency)
        return Decimal(self.amount_minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


class Balance(Model):
    account_kind: Annotated[str, BeforeValidator(_lower)]
    balance: Money


class Account(Model):
    id: str
    name: str
    email: str


class Creator(Model):
    id: str
    name: str


class Share(Model):
    creator: Creator
    basis_points: int


class Terms(catalogue.Terms):
    """A licence's terms; `terms_id` is their published hash, as offers and manifests name them."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    uses: list[UseName]

    def canonical_json(self) -> str:
        """The bytes the catalogue hashes: sorted, de-duplicated lists, a territory list
        naming WORLD reduced to it, sorted keys, no whitespace."""
        territory = sorted(set(self.territory))
        canonical = self.model_dump(mode="json") | {
            "uses": sorted({use.value for use in self.uses}),
            "territory": ["WORLD"] if "WORLD" in territory else territory,
        }
        return json.dumps(canonical, sort_keys=True, separators=(",", ":"))

    @property
    def terms_id(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


class Offer(Model):
    id: str
    price: Money
    terms_id: str
    terms: Terms
    published_at: datetime


class Preview(Model):
    """What a buyer sees of a file before licensing it: `kind` is THUMBNAIL or WAVEFORM
    (a picture at `image_url`, a short-lived address: fetch it within minutes), EXCERPT
    (the text's opening) or NONE (`note` says why)."""

    kind: str
    duration_ms: int | None = None
    excerpt: str | None = None
    note: str | None = None
    image_url: str | None = None


class WorkFile(Model):
    """The work's current file: its name, size in bytes, sha256, and its preview (None
    while the upload is pending)."""

    file_name: str
    size: int
    sha256: str
    preview: Preview | None = None


class Work(Model):
    id: str
    title: str
    description: str
    media_type: MediaTypeName
    tags: list[str]
    language: str
    status: Annotated[WorkStatus, BeforeValidator(_lower)]
    listed: bool
    created_at: datetime
    withdrawn_at: datetime | None = None
    owner: Creator | None = None
    shares: list[Share] = []
    offer: Offer | None = None
    current_version: WorkFile | None = None


class Bundle(Model):
    id: str
    name: str
    uses: list[UseName]
    currency: str
    work_ids: list[str]
    created_at: datetime


class ShareLine(Model):
    creator_id: str
    creator_name: str
    basis_points: int


class QuoteLine(Model):
    work_id: str
    version_id: str
    title: str
    media_type: MediaTypeName
    file_name: str
    size: int
    sha256: str
    offer_id: str
    terms_id: str
    terms: Terms
    price: Money
    platform_fee: Money
    shares: list[ShareLine]


class QuoteExclusion(Model):
    work_id: str
    reason: Annotated[ExclusionReason, BeforeValidator(_lower)]
    detail: str


class Quote(Model):
    id: str
    bundle_id: str
    currency: str
    uses: list[UseName]
    lines: list[QuoteLine]
    excluded: list[QuoteExclusion]
    subtotal: Money
    platform_fee: Money
    total: Money
    """What the purchase charges; the platform fee is taken out of it, not added."""
    platform_fee_bps: int
    status: Annotated[QuoteStatus, BeforeValidator(_lower)]
    created_at: datetime
    expires_at: datetime


class DeliveryExclusion(Model):
    work_id: str
    reason: str
    detail: str


class Delivery(Model):
    id: str
    licence_id: str
    status: Annotated[DeliveryStatus, BeforeValidator(_lower)]
    created_at: datetime
    issued_at: datetime | None = None
    key_id: str | None = None
    manifest_sha256: str | None = None
    entry_count: int
    excluded: list[DeliveryExclusion]
    """Works left out at build time (withdrawn, or consent gone since the quote); refunded."""


class LicenceLine(Model):
    work_id: str
    version_id: str
    title: str
    media_type: MediaTypeName
    file_name: str
    size: int
    sha256: str
    attribution: str
    terms_id: str
    terms: Terms
    price: Money
    starts_at: datetime
    ends_at: datetime
    status: LineStatus
    excluded_reason: str | None = None


class Licence(Model):
    id: str
    buyer_id: str
    buyer_name: str
    bundle_id: str
    quote_id: str
    uses: list[UseName]
    total: Money
    platform_fee: Money
    refunded: Money
    status: Annotated[LicenceStatus, BeforeValidator(_lower)]
    granted_at: datetime
    starts_at: datetime
    ends_at: datetime
    refunded_at: datetime | None = None
    lines: list[LicenceLine]
    delivery: Delivery | None = None
    """Absent until the delivery service has begun to build it."""
    certificate: dict[str, Any] | None = None
    """The signed certificate ({certificate, envelope}) for a third party, which `assent
    verify` checks offline; fetched by `AssentClient.licence` alone."""


class Purchase(Licence):
    """The licence a purchase bought, with how the purchase went."""

    idempotency_key: str
    """Buy again with this key (and the same quote) and the same licence comes back."""
    replayed: bool
    """This key had bought the licence before: nothing was charged this time."""


def graphql_enum(value: object) -> str:
    """The API's name of an enumeration value given as a member or as text in any case."""
    return str(value).upper()


def parse_uses(values: "list[Use | str] | tuple[Use | str, ...]") -> list[Use]:
    """Uses given as members or as text in either case; an unknown one is a ValueError."""
    return [value if isinstance(value, Use) else Use(str(value).lower()) for value in values]


def dump(model: BaseModel) -> dict[str, Any]:
    """A model as JSON-ready data, with the SDK's own field names."""
    return model.model_dump(mode="json")
