"""What VAT a lab's purchase bears, from its billing details and the platform's country.

The rules (README, "Invoices and VAT"):
- a buyer in the platform's country is charged VAT at the platform's rate;
- an EU business in another member state with a valid VAT id is invoiced without VAT,
  under reverse charge;
- a buyer in another member state without a VAT id is charged the platform's rate;
- a buyer outside the EU is invoiced without VAT, outside the scope of EU VAT;
- a lab with no billing details is invoiced without VAT, to its account's name.

VAT ids are checked with python-stdnum (format and check digits; not VIES, which needs
the network at purchase time).
"""

from dataclasses import dataclass

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError

from services.contracts.licensing import VatTreatment
from services.kit.errors import FieldError, InvalidRequest

EU_COUNTRIES = frozenset(code.upper() for code in eu_vat.MEMBER_STATES if code != "xi")
# Greece's VAT ids begin EL, its country code is GR.
VAT_PREFIX_COUNTRY = {"EL": "GR"}


@dataclass(frozen=True, slots=True)
class VatRule:
    treatment: VatTreatment
    rate_bps: int

    def vat_of(self, net_minor: int) -> int:
        """The VAT on a net amount, rounded half up to the minor unit."""
        return (net_minor * self.rate_bps + 5_000) // 10_000

    def note(self) -> str:
        match self.treatment:
            case VatTreatment.CHARGED:
                return f"VAT charged at {self.rate_bps / 100:.2f}%."
            case VatTreatment.REVERSE_CHARGE:
                return (
                    "Reverse charge: VAT is due from the recipient "
                    "(Article 196, Council Directive 2006/112/EC)."
                )
            case VatTreatment.OUTSIDE_SCOPE:
                return (
                    "Not subject to EU VAT: the recipient is established outside the EU "
                    "(Article 44, Council Directive 2006/112/EC)."
                )
            case VatTreatment.NOT_DETERMINED:
                return "Issued without VAT: no billing details were given."


def checked_vat_id(vat_id: str | None, country: str) -> str | None:
    """The VAT id in its compact form, or a typed error: a bad check digit, a format that
    is no member state's, or a member state other than the billing country."""
    if not vat_id or not vat_id.strip():
        return None
    try:
        compact = str(eu_vat.validate(vat_id))
    except ValidationError as exc:
        raise InvalidRequest(
            "the VAT id does not check out",
            fields=[FieldError("vat_id", str(exc), "invalid_vat_id")],
        ) from exc
    prefix = compact[:2].upper()
    if VAT_PREFIX_COUNTRY.get(prefix, prefix) != country:
        raise InvalidRequest(
            "the VAT id is of another country than the billing address",
            fields=[FieldError("vat_id", f"a VAT id of {prefix}", "vat_id_country_mismatch")],
        )
    return compact


def rule_for(
    country: str | None, vat_id: str | None, *, platform_country: str, rate_bps: int
) -> VatRule:
    if country is None:
        return VatRule(VatTreatment.NOT_DETERMINED, 0)
    if country == platform_country:
        return VatRule(VatTreatment.CHARGED, rate_bps)
    if country not in EU_COUNTRIES:
        return VatRule(VatTreatment.OUTSIDE_SCOPE, 0)
    if vat_id:
        return VatRule(VatTreatment.REVERSE_CHARGE, 0)
    return VatRule(VatTreatment.CHARGED, rate_bps)
