"""A lab's billing details and invoices; admins and auditors read any lab's invoices."""

import uuid

import pydantic
import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.errors import REFUSALS, Forbidden, NotFound, ValidationFailed, failure
from gateway.types.invoices import (
    BillingDetails,
    BillingDetailsResult,
    Invoice,
    InvoiceList,
    InvoiceResult,
    InvoicesResult,
)
from services.contracts import licensing as contract
from services.contracts.catalogue import MAX_PAGE_SIZE
from services.kit import errors


@strawberry.type
class InvoicesQuery:
    @strawberry.field(description="Your billing details (labs).")
    async def billing_details(self, info: Info[Context, None]) -> BillingDetailsResult:
        ctx = info.context
        try:
            details = await ctx.invoices.details(ctx.require_principal())
        except errors.AssentError as error:
            return failure(error, NotFound, Forbidden, *REFUSALS)
        return BillingDetails.of(details)

    @strawberry.field(
        description="Invoices, newest first: your own (labs); any lab's (admins, auditors)."
    )
    async def invoices(
        self, info: Info[Context, None], buyer_id: strawberry.ID | None = None, first: int = 100
    ) -> InvoicesResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            try:
                buyer = uuid.UUID(str(buyer_id)) if buyer_id is not None else None
            except ValueError:
                raise errors.Forbidden("no such lab of yours") from None
            found = await ctx.invoices.invoices(principal, buyer, max(1, min(first, MAX_PAGE_SIZE)))
        except errors.AssentError as error:
            return failure(error, Forbidden, *REFUSALS)
        return InvoiceList(items=[Invoice.of(invoice) for invoice in found])

    @strawberry.field(description="One invoice: the structured data its PDF is made from.")
    async def invoice(self, info: Info[Context, None], id: strawberry.ID) -> InvoiceResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            try:
                invoice_id = uuid.UUID(str(id))
            except ValueError:
                raise errors.NotFound("no such invoice") from None
            found = await ctx.invoices.invoice(principal, invoice_id)
        except errors.AssentError as error:
            return failure(error, NotFound, Forbidden, *REFUSALS)
        return Invoice.of(found)


@strawberry.type
class InvoicesMutation:
    @strawberry.mutation(
        description="Who your invoices are made out to (labs); it decides the VAT your "
        "purchases bear from now on. The VAT id's check digits are checked."
    )
    async def set_billing_details(
        self,
        info: Info[Context, None],
        organisation: str,
        address: str,
        country: str,
        vat_id: str | None = None,
    ) -> BillingDetailsResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            details = contract.BillingDetailsIn(
                organisation=organisation, address=address, country=country, vat_id=vat_id
            )
            saved = await ctx.invoices.set_details(principal, details)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, Forbidden, *REFUSALS)
        return BillingDetails.of(saved)
