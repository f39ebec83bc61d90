"""A creator's statement for a period, from the API's `earnings`: each sale and refund of
their works with its price, the platform's fee, the net all the work's creators share and
their own share, a refund's reason in the marketplace's words, the payouts, and what they
were owed when the period opened and closed; as CSV (for a spreadsheet or an accountant)
and as a printable PDF.

    from assent.client import AssentClient
    from assent.statements import statement_csv

    with AssentClient() as client:  # a creator's API key
        statement = client.statements.fetch(since=start, until=end)
    Path("statement.csv").write_text(statement_csv(statement))
"""

import csv
import io
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import AwareDatetime, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from assent.models import Money
from assent.pdf import WrittenPdf, pdf_bytes, write_pdf
from assent.wire import GraphQLWire

EARNINGS = """query Statement($since: DateTime, $until: DateTime, $currency: String) {
  earnings(since: $since, until: $until, currency: $currency) { __typename
    ... on Earnings { creatorId
      lines { licenceId workId title buyerName uses basisPoints kind recordedAt
        price { amountMinor currency } platformFee { amountMinor currency }
        net { amountMinor currency } amount { amountMinor currency } refundExplanation }
      payouts { transactionId reference recordedAt amount { amountMinor currency } }
      opening { amountMinor currency } closing { amountMinor currency } }
    ... on Error { message } ... on ValidationFailed { fields { field message code } } } }"""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class StatementLine(_Model):
    licence_id: str
    work_id: str
    title: str
    buyer_name: str
    uses: list[str]
    basis_points: int
    kind: str
    recorded_at: AwareDatetime
    price: Money
    platform_fee: Money
    net: Money
    """The price less the platform's fee: what all the work's creators share."""
    amount: Money
    refund_explanation: str | None
    """A refund's reason, in the words the portal shows (the API makes them); None for a
    sale."""


class StatementPayout(_Model):
    transaction_id: str
    reference: str
    recorded_at: AwareDatetime
    amount: Money


class Statement(_Model):
    creator_id: str
    lines: list[StatementLine]
    payouts: list[StatementPayout]
    opening: list[Money]
    closing: list[Money]
    since: datetime | None = None
    until: datetime | None = None


class Statements:
    """`AssentClient.statements`: a creator's statements."""

    def __init__(self, wire: GraphQLWire) -> None:
        self._wire = wire

    def fetch(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        currency: str | None = None,
    ) -> Statement:
        """The statement of `[since, until)` (from the first sale, to now, when unset)."""
        variables = statement_variables(since=since, until=until, currency=currency)
        node = self._wire.ask(EARNINGS, variables, "earnings", "Earnings", retry=True)
        return statement_of(node, since=since, until=until)


# The gateway runs the same query with these two, so the portal's PDF is the SDK's.
def statement_variables(
    *, since: datetime | None, until: datetime | None, currency: str | None = None
) -> dict[str, str | None]:
    """`EARNINGS`' variables for the period `[since, until)`."""
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "currency": currency,
    }


def statement_of(
    node: Mapping[str, Any], *, since: datetime | None, until: datetime | None
) -> Statement:
    """The statement from `EARNINGS`' `Earnings` answer, with the period it was asked for."""
    return Statement.model_validate({**node, "since": since, "until": until})


def statement_csv(statement: Statement) -> str:
    """One row per sale, refund and payout, oldest first, then the balances: amounts in
    the currency's units, as an accountant's spreadsheet reads them."""
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(
        ["date", "kind", "work", "buyer", "uses", "price", "platform fee", "net after fee",
         "share %", "your amount", "currency", "licence or reference", "refund reason"]
    )  # fmt: skip
    events = sorted(
        [(line.recorded_at, line) for line in statement.lines]
        + [(payout.recorded_at, payout) for payout in statement.payouts],
        key=lambda pair: pair[0],
    )
    for moment, event in events:
        if isinstance(event, StatementLine):
            rows.writerow(
                [moment.isoformat(), event.kind.lower(), event.title, event.buyer_name,
                 " ".join(event.uses).lower(), event.price.amount, event.platform_fee.amount,
                 event.net.amount, f"{event.basis_points / 100:g}", event.amount.amount,
                 event.amount.currency, event.licence_id, event.refund_explanation or ""]
            )  # fmt: skip
        else:
            rows.writerow(
                [moment.isoformat(), "payout", "", "", "", "", "", "", "", -event.amount.amount,
                 event.amount.currency, event.reference, ""]
            )  # fmt: skip
    balances = (("opening balance", statement.opening), ("closing balance", statement.closing))
    for label, owed in balances:
        for balance in owed:
            rows.writerow(
                ["", label, "", "", "", "", "", "", "", balance.amount, balance.currency, "", ""]
            )  # fmt: skip
    return out.getvalue()


_TEMPLATES = Environment(
    loader=PackageLoader("assent", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def statement_html(statement: Statement) -> str:
    return _TEMPLATES.get_template("statement.html").render(s=statement)


def write_statement_pdf(statement: Statement, path: Path) -> WrittenPdf:
    return write_pdf(statement_html(statement), path)


def statement_pdf(statement: Statement) -> bytes:
    """The PDF `write_statement_pdf` writes, as bytes: what the portal's download answers."""
    return pdf_bytes(statement_html(statement))
