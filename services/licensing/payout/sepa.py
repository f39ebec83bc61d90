"""A payout run as a SEPA credit transfer initiation (pain.001.001.03), written by sepaxml,
which validates the file against the schema it ships before handing it over: a file the
bank would refuse is never stored as ready."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sepaxml import SepaTransfer

from services.licensing.payout.models import PayoutPayment

SCHEMA = "pain.001.001.03"


@dataclass(frozen=True, slots=True)
class Debtor:
    holder: str
    iban: str
    bic: str


@dataclass(frozen=True, slots=True)
class TransferFile:
    message_id: str
    xml: str


def credit_transfers(
    debtor: Debtor, currency: str, execution_date: date, payments: Sequence[PayoutPayment]
) -> TransferFile:
    transfer = SepaTransfer(
        {
            "name": debtor.holder,
            "IBAN": debtor.iban,
            "BIC": debtor.bic,
            "batch": True,
            "currency": currency,
        },
        schema=SCHEMA,
    )
    for payment in payments:
        transfer.add_payment(
            {
                "name": payment.holder,
                "IBAN": payment.iban,
                "BIC": payment.bic,
                "amount": payment.amount_minor,
                "currency": payment.currency,
                "execution_date": execution_date,
                "description": f"Assent earnings {execution_date.isoformat()}",
                "endtoend_id": payment.end_to_end_id,
            }
        )
    xml: bytes = transfer.export(validate=True)
    return TransferFile(message_id=str(transfer.msg_id), xml=xml.decode())
