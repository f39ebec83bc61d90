"""Bank statements read into the lines reconciliation applies: camt.053 with pycamt, or
the documented CSV for a bank that offers nothing else.

pycamt reads entries and their transaction details, but not a returned transfer's
return information (`RtrInf`); that is read here from the same parsed document, by the
transaction's end-to-end id.

The CSV has a header row and these columns (README, "Payouts"):
`entry_reference,booking_date,direction,amount,currency,end_to_end_id,remittance,return_reason`
with `direction` `credit` or `debit` and `amount` in major units ("12.50").
"""

import csv
import hashlib
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from lxml import etree
from pycamt.parser import Camt053ParseError, Camt053Parser

from services.contracts.catalogue import CURRENCY_MINOR_DIGITS
from services.contracts.licensing import BankStatementFormat
from services.kit.errors import FieldError
from services.licensing.errors import BankStatementRejected

CSV_COLUMNS = (
    "entry_reference",
    "booking_date",
    "direction",
    "amount",
    "currency",
    "end_to_end_id",
    "remittance",
    "return_reason",
)
BOOKED = "BOOK"


class Direction(StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"


@dataclass(frozen=True, slots=True)
class BankLine:
    entry_reference: str
    direction: Direction
    amount_minor: int
    currency: str
    end_to_end_id: str | None
    remittance: str
    return_reason: str | None


@dataclass(frozen=True, slots=True)
class ReadStatement:
    statement_id: str
    lines: list[BankLine]


def _rejected(
    message: str, field: str = "content", code: str = "unreadable"
) -> BankStatementRejected:
    return BankStatementRejected(message, fields=[FieldError(field, message, code)])


def minor_units(amount: str, currency: str) -> int:
    digits = CURRENCY_MINOR_DIGITS.get(currency)
    if digits is None:
        raise _rejected(f"{currency} is not a currency of the marketplace", code="wrong_currency")
    try:
        value = Decimal(amount) * 10**digits
    except InvalidOperation as exc:
        raise _rejected(f"{amount!r} is not an amount") from exc
    if value != value.to_integral_value() or value <= 0:
        raise _rejected(f"{amount} {currency} is not a positive amount in whole minor units")
    return int(value)


def read_statement(format: BankStatementFormat, content: str) -> ReadStatement:
    if format is BankStatementFormat.CAMT053:
        return _read_camt053(content)
    return _read_csv(content)


def _return_reasons(parser: Camt053Parser) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for details in parser.tree.iter(etree.Element):
        if etree.QName(details).localname != "TxDtls":
            continue
        found = {etree.QName(child).localname: child for child in details.iter(etree.Element)}
        end_to_end = found.get("EndToEndId")
        reason = found.get("RtrInf")
        if end_to_end is None or reason is None:
            continue
        codes = [
            child.text
            for child in reason.iter(etree.Element)
            if etree.QName(child).localname == "Cd" and child.text
        ]
        reasons[str(end_to_end.text)] = codes[0] if codes else "unknown"
    return reasons


def _read_camt053(content: str) -> ReadStatement:
    try:
        parser = Camt053Parser(content.encode())
        header = parser.get_group_header()
        transactions = parser.get_transactions()
    except (Camt053ParseError, etree.XMLSyntaxError, AttributeError, ValueError) as exc:
        raise _rejected(f"not a camt.053 statement: {str(exc)[:200]}") from exc
    if parser.version == "unknown" or not header.get("MessageID"):
        raise _rejected("not a camt.053 statement: no camt.053 document or message id")
    reasons = _return_reasons(parser)
    lines = []
    for transaction in transactions:
        if transaction.get("Status") not in (BOOKED, None):
            continue  # pending or informational: booked entries only
        end_to_end = transaction.get("EndToEndId")
        if end_to_end == "NOTPROVIDED":
            end_to_end = None
        currency = str(transaction.get("Currency") or "")
        reference = transaction.get("TransactionID")
        if not reference:
            raise _rejected("an entry has no bank reference (AcctSvcrRef)", code="no_reference")
        lines.append(
            BankLine(
                entry_reference=str(reference),
                direction=Direction.CREDIT
                if transaction.get("CreditDebitIndicator") == "CRDT"
                else Direction.DEBIT,
                amount_minor=minor_units(str(transaction.get("Amount")), currency),
                currency=currency,
                end_to_end_id=end_to_end,
                remittance=str(transaction.get("RemittanceInformationFull") or ""),
                return_reason=reasons.get(end_to_end or ""),
            )
        )
    return ReadStatement(statement_id=f"camt053:{header['MessageID']}", lines=lines)


def _read_csv(content: str) -> ReadStatement:
    rows = csv.DictReader(io.StringIO(content))
    if tuple(rows.fieldnames or ()) != CSV_COLUMNS:
        raise _rejected("the CSV's header must be: " + ",".join(CSV_COLUMNS))
    lines = []
    for row in rows:
        direction = (row["direction"] or "").strip().lower()
        if direction not in (Direction.CREDIT, Direction.DEBIT):
            raise _rejected(f"direction {direction!r}: give credit or debit")
        currency = (row["currency"] or "").strip().upper()
        lines.append(
            BankLine(
                entry_reference=(row["entry_reference"] or "").strip(),
                direction=Direction(direction),
                amount_minor=minor_units((row["amount"] or "").strip(), currency),
                currency=currency,
                end_to_end_id=(row["end_to_end_id"] or "").strip() or None,
                remittance=(row["remittance"] or "").strip(),
                return_reason=(row["return_reason"] or "").strip() or None,
            )
        )
    if any(not line.entry_reference for line in lines):
        raise _rejected("every line needs its entry_reference", code="no_reference")
    digest = hashlib.sha256(content.encode()).hexdigest()[:40]
    return ReadStatement(statement_id=f"csv:{digest}", lines=lines)
