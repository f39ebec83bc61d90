"""Card top-ups: a lab asks for a checkout, pays on the provider's page, and its balance
is credited when the provider's signed event arrives (`gateway/card_events.py`)."""

from typing import Annotated

import pydantic
import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.catalogue import Money
from gateway.types.errors import REFUSALS, Conflict, Forbidden, Refusals, ValidationFailed, failure
from gateway.types.licensing import money
from gateway.types.scalars import BigInt
from services.contracts import licensing as contract
from services.kit import errors


@strawberry.type(description="A card payment page for a top-up of your balance.")
class CardCheckout:
    session_id: str
    url: str = strawberry.field(description="Open it to pay; the balance is credited once paid.")
    amount: Money


CardCheckoutResult = Annotated[
    CardCheckout | Conflict | ValidationFailed | Forbidden | Refusals,
    strawberry.union("CardCheckoutResult"),
]


@strawberry.type
class CardMutation:
    @strawberry.mutation(
        description="A card checkout to top up your balance (buyers). Conflict code "
        "CardPaymentsOff: no card provider is configured; top up by bank transfer."
    )
    async def create_card_checkout(
        self, info: Info[Context, None], amount_minor: BigInt, currency: str
    ) -> CardCheckoutResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            checkout = contract.CheckoutIn(amount_minor=amount_minor, currency=currency)
            created = await ctx.cards.checkout(principal, checkout)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, Conflict, ValidationFailed, Forbidden, *REFUSALS)
        return CardCheckout(
            session_id=created.session_id,
            url=created.url,
            amount=money(created.amount_minor, created.currency),
        )
