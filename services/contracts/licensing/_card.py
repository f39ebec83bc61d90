"""Card top-ups through the payment provider: a checkout a lab pays in its browser, and
the provider's signed word that it was paid, which credits the lab's balance once."""

from pydantic import Field

from services.contracts.licensing._base import MAX_AMOUNT_MINOR, Currency, Schema
from services.contracts.licensing._ledger import TransactionRead


class CheckoutIn(Schema):
    amount_minor: int = Field(gt=0, le=MAX_AMOUNT_MINOR)
    currency: Currency


class CheckoutRead(Schema):
    session_id: str
    url: str = Field(description="where the lab pays; the balance is credited once paid")
    amount_minor: int
    currency: str


class CardWebhookIn(Schema):
    """The provider's request as it arrived: its body exactly as sent, and its signature
    header, forwarded by the gateway."""

    payload: str = Field(max_length=512 * 1024)
    signature: str = Field(max_length=4_096)


class CardWebhookRead(Schema):
    event_id: str
    credited: TransactionRead | None = Field(
        description="the top-up this event paid for (the same one when the provider "
        "sends the event again); none for an event that pays for nothing"
    )
