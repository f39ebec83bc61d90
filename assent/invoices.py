"""A lab's invoices, from the API's `invoices`: the structured data as the API gives it
(for an accounting system), and a printable PDF.

    from assent.client import AssentClient
    from assent.invoices import write_invoice_pdf

    with AssentClient() as client:  # a lab's API key
        for invoice in client.invoices.list():
            write_invoice_pdf(invoice, Path(f"invoice-{invoice.number}.pdf"))
"""

from datetime import date
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import AwareDatetime, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from assent.models import Money
from assent.pdf import WrittenPdf, write_pdf
from assent.wire import GraphQLWire

_FIELDS = """id number licenceId period issuedAt vatRateBps vatTreatment vatNote
  net { amountMinor currency } vat { amountMinor currency } gross { amountMinor currency }
  buyerName buyerAddress buyerCountry buyerVatId
  sellerName sellerAddress sellerCountry sellerVatId
  lines { description workId net { amountMinor currency } vat { amountMinor currency } }"""
INVOICES = f"""query Invoices($first: Int!) {{ invoices(first: $first) {{ __typename
  ... on InvoiceList {{ items {{ {_FIELDS} }} }} ... on Error {{ message }} }} }}"""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class InvoiceLine(_Model):
    description: str
    work_id: str
    net: Money
    vat: Money


class Invoice(_Model):
    id: str
    number: str | None
    licence_id: str | None
    period: date | None
    issued_at: AwareDatetime
    vat_rate_bps: int
    vat_treatment: str
    vat_note: str
    net: Money
    vat: Money
    gross: Money
    buyer_name: str
    buyer_address: str | None
    buyer_country: str | None
    buyer_vat_id: str | None
    seller_name: str
    seller_address: str
    seller_country: str
    seller_vat_id: str
    lines: list[InvoiceLine]


class Invoices:
    """`AssentClient.invoices`: a lab's invoices."""

    def __init__(self, wire: GraphQLWire) -> None:
        self._wire = wire

    def list(self, *, first: int = 100) -> list[Invoice]:
        """The newest `first` invoices (at most 100); `number` is None for a moment after
        a purchase, until it is numbered."""
        node = self._wire.ask(INVOICES, {"first": first}, "invoices", "InvoiceList", retry=True)
        return [Invoice.model_validate(item) for item in node["items"]]


_TEMPLATES = Environment(
    loader=PackageLoader("assent", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def invoice_html(invoice: Invoice) -> str:
    return _TEMPLATES.get_template("invoice.html").render(i=invoice)


def write_invoice_pdf(invoice: Invoice, path: Path) -> WrittenPdf:
    return write_pdf(invoice_html(invoice), path)
